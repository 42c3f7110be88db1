"""Recipes: find a YAML recipe by path or name, apply ``key=value`` overrides, resolve ``${}``, map keys to lines."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seqkit.errors import SeqkitError, suggest
from seqkit.filekind import special
from seqkit.recipe_guard import (
    TOTAL_PROBLEM,
    budget_is_ours,
    dotted,
    expansion_problems,
    leaves,
    reference_problem,
    shape_problem,
    yaml_shape_problem,
)

MAX_RECIPE_BYTES = 1 << 20


class RecipeError(SeqkitError):
    """A recipe that cannot run; every problem found, one per line, each with its file, line and key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            super().__init__(self.problems[0])
        else:
            super().__init__(f"{len(self.problems)} problems in the recipe:\n  " + "\n  ".join(self.problems))


@dataclass
class Recipe:
    """A loaded recipe: the resolved plain data, where it came from, and which line holds each key."""

    data: dict[str, Any]
    path: Path | None
    name: str
    lines: dict[str, int] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    #: ``(key path, problem)`` found while loading (unresolvable ``${}``), reported with validation's
    problems: list[tuple[str, str]] = field(default_factory=list)

    def where(self, key: str) -> str:
        """``file:line: key`` for messages; the closest enclosing key's line when *key* itself is not in the file."""
        key = str(key)
        for override in self.overrides_keys:
            # the override set this key, a part of it, or the section it lives in
            if key == override or key.startswith(override + ".") or override.startswith(key + "."):
                return f"command line: {key}"
        probe = key
        while probe and probe not in self.lines:
            probe = probe.rpartition(".")[0]
        source = str(self.path) if self.path else "<recipe>"
        return f"{source}:{self.lines[probe]}: {key}" if probe else f"{source}: {key}"

    @property
    def overrides_keys(self) -> set[str]:
        return {item.partition("=")[0].strip() for item in self.overrides}


def recipe_dirs() -> list[Path]:
    """Where recipe names are looked up: ``$SEQKIT_RECIPES`` (``:``-separated), ``./recipes``, the source tree's."""
    dirs = [Path(p) for p in os.environ.get("SEQKIT_RECIPES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "recipes")
    dirs.append(Path(__file__).resolve().parents[2] / "recipes")  # the checkout's recipes/, beside seqkit/
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def plugin_recipe_dirs() -> dict[str, Path]:
    """Plugin name -> the ``recipes`` folder its package ships (recipes named ``<plugin>/<recipe>``)."""
    from seqkit.plugin.manager import get_plugin_manager

    return {info.name: info.recipes for info in get_plugin_manager().plugins if info.recipes is not None}


def list_recipes() -> dict[str, Path]:
    """Every recipe found, by name: its path under a recipe folder without ``.yaml``; a plugin's, under its name.

    The folders of :func:`recipe_dirs` come first, then the ``recipes`` folder of each installed plugin
    package (``seqkit_jordan/recipes/tiny.yaml`` is ``jordan/tiny``).
    """
    found: dict[str, Path] = {}
    roots = [("", root) for root in recipe_dirs()] + [(f"{name}/", root) for name, root in plugin_recipe_dirs().items()]
    for prefix, root in roots:
        for path in sorted(root.rglob("*.yaml")):
            found.setdefault(prefix + path.relative_to(root).with_suffix("").as_posix(), path)
    return found


def find_recipe(name_or_path: str | os.PathLike) -> tuple[Path, str]:
    """``(file, name)``: a path as given (named by its stem), or a recipe name (``sentiment/gru_polarity``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path, path.stem
    kind = special(path)
    if kind:  # never opened: a named pipe would wait for a writer forever
        raise SeqkitError(f"recipe {str(name_or_path)!r}: expected a recipe file (YAML), found {kind}")
    known = list_recipes()
    stem = str(name_or_path).removesuffix(".yaml")
    if stem in known:
        return known[stem], stem
    by_basename = [name for name in known if name.rpartition("/")[2] == stem]
    if len(by_basename) == 1:
        return known[by_basename[0]], by_basename[0]
    if by_basename:
        raise SeqkitError(f"recipe name {stem!r} is ambiguous: {', '.join(sorted(by_basename))}; give one of these")
    raise SeqkitError(
        f"recipe {str(name_or_path)!r} not found: no such file, and no recipe of that name"
        f"{suggest(stem, known) or '.'} `seqkit ls recipes` lists them."
    )


def _line_map(text: str) -> dict[str, int]:
    """Dotted key path → 1-based line, from YAML's node tree (OmegaConf keeps no positions)."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}.{key.value}" if prefix else str(key.value)
                lines[path] = key.start_mark.line + 1
                walk(value, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[f"{prefix}.{index}"] = item.start_mark.line + 1
                walk(item, f"{prefix}.{index}")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, "")
    return lines


def load_recipe(name_or_path: str | os.PathLike, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe, apply ``key=value`` overrides and resolve interpolations; errors name file, line and key."""
    path, name = find_recipe(name_or_path)
    if path.stat().st_size > MAX_RECIPE_BYTES:
        raise RecipeError([f"{path}: {path.stat().st_size:,} bytes; a recipe is at most {MAX_RECIPE_BYTES:,}"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        utf16 = "; it looks like UTF-16: save it as UTF-8" if error.object[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise RecipeError(
            [f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}){utf16}"]
        ) from None
    except OSError as error:
        raise RecipeError([f"{path}: cannot read: {error.strerror}"]) from None
    too_big = _yaml_too_big(text)
    if too_big:
        raise RecipeError([f"{path}: not a recipe seqkit will read: {too_big}"])
    try:
        with budget_is_ours():
            base = OmegaConf.create(text) if text.strip() else OmegaConf.create({})
    except RecursionError:
        raise RecipeError([f"{path}: not a recipe seqkit will read: containers nested too deeply"]) from None
    except ValueError as error:  # e.g. an integer of thousands of digits (Python's conversion limit)
        raise RecipeError([f"{_line_of_long_number(path, text)}: not a usable value: {_first_line(error)}"]) from None
    except (yaml.YAMLError, OmegaConfBaseException) as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise RecipeError([f"{where}: not valid YAML: {getattr(error, 'problem', None) or error}"]) from None
    if not OmegaConf.is_dict(base):
        raise RecipeError([f"{path}: a recipe is a mapping of sections (seed, data, model, ...), not a list or value"])
    return from_config(base, overrides, path=path, name=name, lines=_line_map(text))


def _yaml_too_big(text: str) -> str | None:
    """What makes YAML *text* too big or deep to read, or None."""
    try:
        return yaml_shape_problem(text)
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        return "containers nested too deeply to read"


def from_config(
    base: Any,
    overrides: Sequence[str] = (),
    *,
    path: Path | None = None,
    name: str = "recipe",
    lines: dict | None = None,
) -> Recipe:
    """A :class:`Recipe` from a mapping or OmegaConf config plus overrides (used for checkpoints' recipes too).

    Whatever its origin, a recipe is data: every ``${}`` calling a resolver is refused (whatever its key looks
    like), and its size, depth and the expansion of its references are bounded (:mod:`seqkit.recipe_guard`).
    """
    source = str(path) if path else "<recipe>"
    plain = OmegaConf.to_container(base, resolve=False) if OmegaConf.is_config(base) else base
    too_big = shape_problem(plain)
    if too_big:
        raise RecipeError([f"{source}: not a recipe seqkit will read: {too_big}"])
    bad = [
        item for item in overrides if not _is_removal(item) and ("=" not in item or not item.partition("=")[0].strip())
    ]
    if bad:
        raise RecipeError(
            [f"command line: {item!r} is not key=value (e.g. trainer.max_epochs=3) or ~key (remove it)" for item in bad]
        )
    try:
        config = OmegaConf.create(plain)
    except (OmegaConfBaseException, ValueError, TypeError) as error:
        raise RecipeError([f"{source}: not a recipe seqkit will read: {_first_line(error)}"]) from None
    for item in overrides:
        if _is_removal(item):
            _remove(config, item)
            continue
        too_big = _yaml_too_big(item.partition("=")[2])
        if too_big:
            raise RecipeError([f"command line: {item.partition('=')[0]}: not a value seqkit will read: {too_big}"])
        try:
            with budget_is_ours():
                override = OmegaConf.from_dotlist([item])
                config = OmegaConf.merge(config, override)
                _keep_missing(config, override)
        except (OmegaConfBaseException, yaml.YAMLError, TypeError, ValueError) as error:
            raise RecipeError([f"command line: cannot apply {item[:200]!r}: {_first_line(error)}"]) from None
        except RecursionError:
            key = item.partition("=")[0]
            raise RecipeError([f"command line: {key}: the value is nested too deeply"]) from None
    unresolved = OmegaConf.to_container(config, resolve=False)
    too_big = shape_problem(unresolved)
    if too_big:
        raise RecipeError([f"{source} with its overrides: not a recipe seqkit will read: {too_big}"])
    problems: list[tuple[str, str]] = []
    refused: dict[tuple, str] = {}
    for key, raw in leaves(unresolved):
        problem = reference_problem(raw) if isinstance(raw, str) and "${" in raw else None
        if problem:
            refused[key] = problem
    refused.update({k: v for k, v in expansion_problems(_replaced(unresolved, refused)).items() if k not in refused})
    for key, problem in refused.items():
        if problem == TOTAL_PROBLEM and any(said == TOTAL_PROBLEM for _, said in problems):
            continue  # said once, at the value that crossed the budget; the rest stay unresolved too
        problems.append((dotted(key), problem))
    config = OmegaConf.create(_replaced(unresolved, refused))
    _check_resolves(config, (), problems)
    data = OmegaConf.to_container(config, resolve=True, throw_on_missing=False)
    return Recipe(data, path, name, lines or {}, list(overrides), problems)


def _keep_missing(config: Any, override: Any) -> None:
    """Make every key *override* leaves missing (``key=???``) missing in *config* too.

    OmegaConf's merge keeps the value a ``???`` is merged onto, so ``seed=???`` would leave the recipe's seed in
    place; on the command line it means "this value must be given", as ``???`` in the recipe file does.
    """
    # read unresolved: an override's ${} is judged with the whole recipe, later
    for key, value in leaves(OmegaConf.to_container(override, resolve=False)):
        # a list is replaced whole by a merge: its missing items are in config already
        if value == "???" and all(isinstance(part, str) for part in key):
            node = config
            for part in key[:-1]:
                node = node[part]
            node[key[-1]] = "???"


def _is_removal(item: str) -> bool:
    """``~key.path``: remove a key the recipe sets (Hydra's spelling), e.g. the old source's ``data.path`` when
    ``data.kind=...`` names a data source that takes other keys."""
    return item.startswith("~")


def _remove(config: Any, item: str) -> None:
    """Delete the key *item* (``~a.b.c``) names from *config*, or say why it cannot be."""
    path = item[1:]
    parts = path.split(".")
    if "=" in item or not path or not all(parts):
        raise RecipeError([f"command line: {item[:200]!r}: ~ takes a key path and no value, e.g. ~data.path"])
    node = config
    for depth, part in enumerate(parts):
        if not OmegaConf.is_dict(node) or part not in node:
            where = ".".join(parts[:depth]) or "the recipe"
            raise RecipeError([f"command line: {item[:200]}: {where} has no key {part!r} to remove"])
        if depth == len(parts) - 1:
            del node[part]
        else:
            node = node[part]


def _replaced(data: Any, paths: dict[tuple, str]) -> Any:
    """A copy of *data* with the value at each of *paths* replaced by ``???`` (missing)."""
    if not paths:
        return data

    def copy(node: Any, at: tuple) -> Any:
        if at in paths:
            return "???"
        if isinstance(node, dict):
            return {k: copy(v, (*at, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [copy(v, (*at, i)) for i, v in enumerate(node)]
        return node

    return copy(data, ())


def _check_resolves(config: Any, at: tuple, problems: list[tuple[str, str]]) -> None:
    """Resolve each value once; one that cannot be is reported with every other problem, and validation then
    sees a missing value there instead."""
    keys = list(config.keys()) if OmegaConf.is_dict(config) else list(range(len(config)))
    for key in keys:
        if OmegaConf.is_missing(config, key):
            continue
        node = config._get_node(key)
        if OmegaConf.is_config(node) and not OmegaConf.is_interpolation(config, key):
            _check_resolves(node, (*at, key), problems)
            continue
        try:
            config[key]
        except OmegaConfBaseException as error:
            problems.append((dotted((*at, key)), f"cannot resolve: {_first_line(error)}"))
            config[key] = "???"


def _line_of_long_number(path: Path, text: str) -> str:
    for number, line in enumerate(text.splitlines(), 1):
        if any(len(word) > 1000 for word in line.replace(":", " ").split()):
            return f"{path}:{number}"
    return str(path)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def escaped(data: Any) -> Any:
    """A copy of resolved recipe *data* that reads back through :func:`from_config` as exactly *data*.

    Resolved, a recipe may hold text that looks like an interpolation (``\\${a}`` in the file, or typed
    on the command line, is the text ``${a}``). Saved as it is, whoever loads the file later would take it for a
    reference to another key (another value, silently) or a resolver call (refused): each ``${`` is escaped, and
    so is each backslash before it (OmegaConf reads ``\\\\`` before ``${`` as one backslash).
    """
    if isinstance(data, str):
        return _INTERPOLATION_START.sub(lambda m: "\\" * (2 * len(m.group(1)) + 1) + "${", data)
    if isinstance(data, dict):
        return {key: escaped(value) for key, value in data.items()}  # keys are never interpolated
    if isinstance(data, (list, tuple)):
        return [escaped(value) for value in data]
    return data


_INTERPOLATION_START = re.compile(r"(\\*)\$\{")


def to_yaml(data: dict[str, Any]) -> str:
    """Resolved recipe *data* as YAML that :func:`load_recipe` reads back as exactly *data* (see :func:`escaped`)."""
    return OmegaConf.to_yaml(OmegaConf.create(escaped(data)))
