"""The plugin manager: loads the ``seqkit`` entry-point group and fills one registry per hook."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from seqkit import hookspecs
from seqkit.errors import PluginError, message_of, one_line, printable, suggest
from seqkit.plugin.registry import KernelSpec, Provenance, Registry, Spec
from seqkit.plugin.trace import trace, trace_after, trace_before

log = logging.getLogger("seqkit.plugins")  # its name before the move into seqkit.plugin

ENTRY_POINT_GROUP = "seqkit"
LOAD_ONLY_ENV = "SEQKIT_PLUGINS"
DISABLE_ENV = "SEQKIT_DISABLE_PLUGINS"
TRACE_ENV = "SEQKIT_TRACE_PLUGINS"
RECIPES_FOLDER = "recipes"
OWN_DISTRIBUTION = "seqkit"  # the plugins seqkit ships


@dataclass
class PluginInfo:
    """One loaded plugin: its name, where it came from, and what it registered (kind -> names)."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    #: the folder of recipes the plugin's package ships (``<package>/recipes/*.yaml``), if any
    recipes: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "registers": self.registers,
        }


def _env_names(environ: Mapping[str, str], key: str) -> set[str] | None:
    """The comma-separated names in ``environ[key]``; None when the variable is unset."""
    if key not in environ:
        return None
    return {n.strip() for n in environ[key].split(",") if n.strip()}


def discover_entry_points() -> list[metadata.EntryPoint]:
    """Every entry point in the ``seqkit`` group, one per (name, distribution), in name order."""
    seen: dict[tuple[str, str | None], metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else None
        seen.setdefault((ep.name, dist), ep)
    return sorted(seen.values(), key=lambda ep: ep.name)


class PluginManager:
    """Loads plugins and holds the registries they fill.

    ``entry_points``: load the installed ``seqkit`` entry points (filtered by ``SEQKIT_PLUGINS`` and
    ``SEQKIT_DISABLE_PLUGINS``). ``plugins``: extra ``(name, object)`` pairs registered in-process, as
    tests and notebooks do. Every failure is a one-line :class:`PluginError` naming the plugin and its
    distribution. With ``strict=False`` a plugin that fails to import or is invalid is left out and its
    error kept in :attr:`errors` instead (``seqkit plugins`` lists what works and reports the rest).
    """

    def __init__(
        self,
        plugins: Iterable[tuple[str, object]] = (),
        *,
        entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
        strict: bool = True,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.errors: list[PluginError] = []
        self._strict = strict
        self.cells: Registry[Spec] = Registry("cell", Spec)
        self.kernels: Registry[KernelSpec] = Registry("kernel", KernelSpec)
        self.tasks: Registry[Spec] = Registry("task", Spec)
        self.datasets: Registry[Spec] = Registry("dataset", Spec)
        self.tokenizers: Registry[Spec] = Registry("tokenizer", Spec)
        self.callbacks: Registry[Spec] = Registry("callback", Spec)

        environ = os.environ if environ is None else environ
        self._trace = environ.get(TRACE_ENV, "") == "1"
        if self._trace:
            self._pm.add_hookcall_monitoring(trace_before, trace_after)
        if entry_points:
            for ep in self._selected(discover_entry_points(), environ):
                self._tolerant(self._load_entry_point, ep)
        for name, obj in plugins:
            info = PluginInfo(name, None, None, getattr(obj, "__name__", type(obj).__name__))
            self._tolerant(self._register, obj, info)
        for hook_name in hookspecs.REGISTRIES:
            self._collect(hook_name)

    @property
    def hook(self) -> pluggy.HookRelay:
        """pluggy's hook relay, for hooks that later phases call on every plugin."""
        return self._pm.hook

    @property
    def plugins(self) -> list[PluginInfo]:
        return [self.infos[n] for n in sorted(self.infos)]

    def registry(self, kind: str) -> Registry:
        """The registry for *kind* (``cells``, ``kernels``, ...)."""
        return getattr(self, kind)

    # --- loading --------------------------------------------------------------------------------------

    def _selected(self, eps: list[metadata.EntryPoint], environ: Mapping[str, str]) -> list[metadata.EntryPoint]:
        names = [ep.name for ep in eps]
        by_name: dict[str, metadata.EntryPoint] = {}
        for ep in eps:
            if ep.name in by_name:
                raise PluginError(
                    f"two installed plugins are named '{ep.name}': from distribution {_dist_label(by_name[ep.name])} "
                    f"and from distribution {_dist_label(ep)}; uninstall one of them"
                )
            by_name[ep.name] = ep
        only = _env_names(environ, LOAD_ONLY_ENV)
        if only is not None:
            for name in sorted(only - set(names)):
                raise PluginError(
                    f"{LOAD_ONLY_ENV} names plugin '{name}', which is not installed{suggest(name, names) or '.'} "
                    f"Installed plugins: {', '.join(names) or 'none'}."
                )
        blocked = _env_names(environ, DISABLE_ENV) or set()
        for name in sorted(blocked - set(names)):
            log.warning("%s names plugin '%s', which is not installed", DISABLE_ENV, name)
        return [ep for ep in eps if (only is None or ep.name in only) and ep.name not in blocked]

    def _tolerant(self, load: Any, *args: Any) -> None:
        try:
            load(*args)
        except PluginError as error:
            if self._strict:
                raise
            self.errors.append(error)

    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        dist, version = (ep.dist.metadata["Name"], ep.dist.version) if ep.dist is not None else (None, None)
        info = PluginInfo(ep.name, dist, version, ep.value)
        try:
            obj = ep.load()
        except SystemExit as exc:  # a plugin must never end seqkit, least of all with status 0
            raise PluginError(
                f"{_label(info)} called sys.exit({exc.code!r}) while importing; a plugin must raise an error "
                f"instead (skip it with {DISABLE_ENV}={ep.name})"
            ) from None
        except KeyboardInterrupt:
            raise PluginInterrupt(f"while importing {_label(info)}") from None
        except BaseException as exc:  # GeneratorExit and home-made BaseExceptions too: a plugin's, so named
            raise PluginError(
                f"{_label(info)} failed to import: {printable(type(exc).__name__)}: {message_of(exc)} "
                f"(skip it with {DISABLE_ENV}={ep.name})"
            ) from exc
        self._register(obj, info)

    def _register(self, obj: object, info: PluginInfo) -> None:
        if info.name in self.infos:
            raise PluginError(f"{_label(info)}: {_label(self.infos[info.name])} already has this name")
        try:
            self._pm.register(obj, name=info.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"{_label(info)} is invalid: {one_line(exc)}") from exc
        except ValueError as exc:  # pluggy: the same object registered twice
            raise PluginError(f"{_label(info)} could not be registered: {one_line(exc)}") from exc
        for caller in self._pm.get_hookcallers(obj) or []:
            if not caller.has_spec():
                self._pm.unregister(obj)
                known = [n for n in dir(hookspecs) if n.startswith("register_")]
                raise PluginError(
                    f"{_label(info)} implements '{caller.name}', which is not a seqkit hook"
                    f"{suggest(caller.name, known) or '.'} Hooks: {', '.join(known)}."
                )
        info.recipes = _shipped_recipes(obj)
        self.infos[info.name] = info

    def _collect(self, hook_name: str) -> None:
        """Call each plugin's implementation of *hook_name* in turn, so every entry is attributed."""
        kind, _ = hookspecs.REGISTRIES[hook_name]
        registry = self.registry(kind)
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            info = self.infos[impl.plugin_name]
            provenance = Provenance(info.name, info.distribution, info.version)
            names: list[str] = []

            def register(spec: Any, _p: Provenance = provenance, _names: list[str] = names) -> None:
                # tolerant (`seqkit plugins`): an entry refused (a clash) is reported, the plugin's others are kept
                self._tolerant(lambda: _names.append(registry.add(spec, _p).key))

            if self._trace:
                trace(f"{hook_name} → plugin '{info.name}' ({impl.function.__module__}.{impl.function.__name__})")
            try:
                self._tolerant(self._call_hook, impl, register, hook_name, info)
            finally:
                if names:
                    info.registers.setdefault(kind, []).extend(names)
            if self._trace:
                trace(f"{hook_name} ← plugin '{info.name}' registered {names or 'nothing'}")
        log.debug("%s: %s", kind, registry.names())

    def _call_hook(self, impl: Any, register: Any, hook_name: str, info: PluginInfo) -> None:
        """One plugin's implementation of *hook_name*; whatever goes wrong in it is that plugin's PluginError."""
        try:
            impl.function(*[register for _ in impl.argnames])
        except PluginError:
            raise
        except SystemExit as exc:
            raise PluginError(
                f"{_label(info)} called sys.exit({exc.code!r}) in {hook_name}; a plugin must raise an error instead"
            ) from None
        except KeyboardInterrupt:
            raise PluginInterrupt(f"in {hook_name} of {_label(info)}") from None
        except BaseException as exc:  # GeneratorExit and home-made BaseExceptions too
            raise PluginError(
                f"{_label(info)} failed in {hook_name}: {printable(type(exc).__name__)}: {message_of(exc)}"
            ) from exc


class PluginInterrupt(KeyboardInterrupt):
    """Ctrl-C (or a plugin raising KeyboardInterrupt) while a plugin's code ran; the message names the plugin."""


def blame(traceback: Any, *, third_party: bool = False) -> str | None:
    """``plugin 'name' (module.function)`` for the innermost frame of *traceback* in an installed plugin's
    package, or None when no plugin's code is in it. *third_party*: only plugins seqkit does not ship
    (a failure in the ones it ships is seqkit's own bug)."""
    manager = _manager
    if manager is None:
        return None
    infos = [i for i in manager.infos.values() if not third_party or i.distribution != OWN_DISTRIBUTION]
    packages = {info.module.partition(":")[0].split(".")[0]: info for info in infos}
    packages.pop("seqkit", None)
    found = None
    while traceback is not None:
        frame = traceback.tb_frame
        module = str(frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in packages:
            found = f"{_label(packages[module.split('.')[0]])} ({module}.{frame.f_code.co_name})"
        traceback = traceback.tb_next
    return found


def _shipped_recipes(obj: object) -> Path | None:
    """``<package>/recipes`` beside a plugin module's ``__init__.py``, when it holds recipes."""
    file = getattr(obj, "__file__", None)
    folder = Path(file).parent / RECIPES_FOLDER if file else None
    return folder if folder is not None and folder.is_dir() and any(folder.rglob("*.yaml")) else None


def _dist_label(ep: metadata.EntryPoint) -> str:
    return f"{ep.dist.metadata['Name']} {ep.dist.version}" if ep.dist is not None else "(unknown)"


def _label(info: PluginInfo) -> str:
    return printable(Provenance(info.name, info.distribution, info.version))


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, loaded on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
    return _manager


def set_plugin_manager(manager: PluginManager | None) -> None:
    """Replace the process-wide plugin manager (None: load afresh on next use), e.g. in tests."""
    global _manager
    _manager = manager
