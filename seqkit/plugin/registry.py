"""Named registries of what plugins provide: duplicate names are errors, unknown names get suggestions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from seqkit.errors import PluginError, UnknownNameError, suggest
from seqkit.plugin.lazy import LazyRef, is_reference


@dataclass(frozen=True)
class Provenance:
    """Which plugin registered an entry, and from which installed distribution."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution is None:
            return f"plugin '{self.plugin}' (registered in-process)"
        return f"plugin '{self.plugin}' (distribution {self.distribution} {self.version})"


@dataclass(frozen=True)
class ShapeBucket:
    """The size of a layer's input as ``auto`` sees it: batch and steps, each rounded up to a power of two.

    ``auto``'s choice is cached per device, dtype and bucket, so a kernel's ``auto_rule`` is asked once per
    bucket rather than once per call, and gives one answer for every shape in it.
    """

    batch: int
    steps: int

    @classmethod
    def of(cls, batch: int, steps: int) -> ShapeBucket:
        """The bucket holding a ``(batch, steps)`` input."""
        return cls(_power_of_two_at_least(batch), _power_of_two_at_least(steps))

    def __str__(self) -> str:
        return f"B<={self.batch}, T<={self.steps}"


def _power_of_two_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@dataclass(frozen=True)
class Spec:
    """A named thing a plugin provides (a cell, task, dataset, tokenizer or callback).

    ``build`` is called with the entry's options to make one; ``description`` is shown by ``seqkit ls``.
    ``build`` may be given as a string ``"package.module:attribute"``: the module is imported only when the entry
    is first built (or its options checked), so that ``seqkit plugins`` and ``seqkit ls`` stay instant.
    ``corpora`` (data sources only): the real corpora the source reads, as :class:`seqkit.Corpus` entries,
    listed, fetched and verified by ``seqkit data``. ``predict_options`` (tasks only): the task class's
    ``predict_options``, given again here so that ``seqkit predict --help`` lists them without importing the task
    (and torch); None reads them from the class. ``provenance`` is filled in by the plugin manager, never
    by the plugin.
    """

    name: str
    build: Callable[..., Any] | str
    description: str = ""
    corpora: tuple[Any, ...] = ()
    predict_options: tuple[Any, ...] | None = None
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _make_lazy(self, ("build",))

    @property
    def key(self) -> str:
        return self.name

    def problem(self) -> str | None:
        """What is wrong with this entry, or None."""
        if not isinstance(self.name, str) or not self.name.isidentifier():
            return "names must be identifiers"
        if not callable(self.build):
            return f"build must be callable or a 'package.module:attribute' string, got {self.build!r}"
        # by shape, not class: the registry sits below the data layer that defines seqkit.Corpus
        corpus_like = isinstance(self.corpora, tuple) and all(
            hasattr(c, "folder") and isinstance(getattr(c, "files", None), tuple) for c in self.corpora
        )
        if not corpus_like:
            return f"corpora must be a tuple of seqkit.Corpus, got {self.corpora!r}"
        options = self.predict_options
        # by shape too: PredictOption lives above the registry
        if options is not None and not (
            isinstance(options, tuple) and all(hasattr(o, "flag") and hasattr(o, "parse") for o in options)
        ):
            return f"predict_options must be None or a tuple of seqkit.PredictOption, got {options!r}"
        return None


@dataclass(frozen=True)
class KernelSpec:
    """A fast path that runs one whole layer of one cell kind.

    ``run(cell, weights, x, lengths, state) -> (output, state)``:
      - ``cell``: the :class:`seqkit.Cell` instance of the layer (its options, e.g. ``reset_after``);
      - ``weights``: one mapping of parameter name (``weight_ih``, ...) to tensor per direction
        (two mappings: bidirectional, the second runs in reverse);
      - ``x``: ``(B, T, I)``, zero past each sequence's end; ``lengths``: ``(B,)`` int64 on ``x``'s device,
        or None when every sequence has length T;
      - ``state``: a tuple, one ``(D, B, S_k)`` tensor per state component (LSTM: ``(h, c)``; ``S_k``:
        ``cell.state_sizes[k]``);
      - returns ``(B, T, D*O)`` outputs (``O``: ``cell.output_size``, ``hidden_size`` unless the cell declares
        another; zero past each sequence's end) and the final state tuple,
        taken at each sequence's last real step (for the reverse direction: at its first step).

    ``run``, ``supports``, ``auto_skip`` and ``auto_rule`` may each be given as a string ``"package.module:attribute"``,
    imported when first used (see :class:`Spec`).

    ``supports(cell, device, dtype) -> str | None`` returns why the kernel cannot run the layer, or None
    when it can. ``device`` and ``dtype`` are None when only the cell's options are being checked
    (at construction, before the layer knows where it will run).

    ``backend: auto`` picks the supporting kernel with the highest ``priority``. ``auto_skip(cell, device,
    dtype) -> str | None``, when given, says why auto should pass the kernel over although it can run
    (e.g. it runs there only in a slow emulator); an explicit request ignores it.

    ``auto_rule(cell, device, dtype, shape) -> (take, why)``, when given, lets auto's choice depend on the
    input's size: *shape* is a :class:`ShapeBucket` (None while the layer is built, before any input), and
    the answer says whether auto takes the kernel there and why (e.g. the measurement the rule comes from);
    *why* is shown in ``backend_reason``. An explicit request ignores it.
    """

    cell: str
    name: str
    run: Callable[..., Any] | str
    supports: Callable[..., str | None] | str
    priority: int = 0
    description: str = ""
    auto_skip: Callable[..., str | None] | str | None = None
    auto_rule: Callable[..., tuple[bool, str]] | str | None = None
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _make_lazy(self, ("run", "supports", "auto_skip", "auto_rule"))

    @property
    def key(self) -> str:
        return f"{self.cell}/{self.name}"

    def problem(self) -> str | None:
        """What is wrong with this entry, or None."""
        for label, value in (("cell", self.cell), ("name", self.name)):
            if not isinstance(value, str) or not value.isidentifier():
                return f"its {label} must be an identifier, got {value!r}"
        if self.name in RESERVED_KERNEL_NAMES:
            return f"the kernel name {self.name!r} is reserved"
        functions: tuple[tuple[str, object], ...] = (
            ("run", self.run),
            ("supports", self.supports),
            ("auto_skip", self.auto_skip),
            ("auto_rule", self.auto_rule),
        )
        for label, function in functions:
            if not callable(function) and not (label in ("auto_skip", "auto_rule") and function is None):
                return f"{label} must be callable, got {function!r}"
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            return f"priority must be an integer, got {self.priority!r}"
        return None


# backend names the core owns: auto (choose) and its two kernels that run every cell (seqkit.rnn.kernels)
AUTO = "auto"
REFERENCE_KERNEL = "reference"
GENERIC_KERNEL = "generic"
RESERVED_KERNEL_NAMES = (AUTO, REFERENCE_KERNEL, GENERIC_KERNEL)


def _make_lazy(spec: Spec | KernelSpec, fields: tuple[str, ...]) -> None:
    """Turn each ``"module:attribute"`` string among *fields* into a :class:`LazyRef` naming its owner (again after
    ``replace`` adds the provenance, so that an import failure names the plugin)."""
    owner = f"'{spec.key}' of {spec.provenance}" if spec.provenance is not None else f"'{spec.key}'"
    for name in fields:
        value = getattr(spec, name)
        if isinstance(value, LazyRef) and not value.loaded:
            value = value.target
        if is_reference(value):
            object.__setattr__(spec, name, LazyRef(value, owner))


S = TypeVar("S", Spec, KernelSpec)


class Registry(Generic[S]):
    """Entries of one kind (``cell``, ``kernel``, ...) keyed by name; iteration is in name order."""

    def __init__(self, kind: str, spec_type: type[S]) -> None:
        self.kind = kind
        self.spec_type: type[S] = spec_type
        self._entries: dict[str, S] = {}

    def add(self, spec: S, provenance: Provenance) -> S:
        """Record *spec* as registered by *provenance*; a name registered twice is a :class:`PluginError`."""
        if not isinstance(spec, self.spec_type):
            raise PluginError(
                f"{provenance} registered {spec!r} as a {self.kind}; expected a seqkit.{self.spec_type.__name__}"
            )
        problem = spec.problem()
        if problem is not None:
            raise PluginError(f"{provenance} registered an invalid {self.kind} {spec.key!r}: {problem}")
        existing = self._entries.get(spec.key)
        if existing is not None:
            raise PluginError(
                f"{self.kind} '{spec.key}' is registered twice: by {existing.provenance} and by {provenance}; "
                f"disable one of them with SEQKIT_DISABLE_PLUGINS"
            )
        spec = replace(spec, provenance=provenance)
        self._entries[spec.key] = spec
        return spec

    def get(self, key: str) -> S:
        """The entry called *key*, or an :class:`UnknownNameError` naming the closest valid names."""
        try:
            return self._entries[key]
        except KeyError:
            raise UnknownNameError(self.unknown_message(key)) from None

    def unknown_message(self, key: str) -> str:
        if not self._entries:
            return f"unknown {self.kind} {key!r}: no {self.kind}s are registered (see `seqkit plugins`)"
        return (
            f"unknown {self.kind} {key!r}{suggest(str(key), self._entries) or '.'} "
            f"Available {self.kind}s: {', '.join(self.names())}."
        )

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[S]:
        return iter(self._entries[k] for k in self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
