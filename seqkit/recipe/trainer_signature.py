"""``pytorch_lightning.Trainer``'s keyword arguments and type hints, for checking a recipe's ``trainer`` section
without importing Lightning (3 s of `seqkit validate`'s 6 on the development machine).

The first check in an environment imports Lightning, reads the signature and, once the command succeeded, keeps a
description of it in seqkit's cache folder (``$SEQKIT_CACHE``); later checks read that file as long as Lightning's
version and the files that define the signature are unchanged. The description is plain JSON read back into a fixed
vocabulary of types (numbers, strings, literals, unions, lists, mappings, and any other class by name only, which
the check lets pass as it does the class itself): nothing in it is run. A file that is missing, unreadable or
damaged is written again.
"""

from __future__ import annotations

import collections.abc
import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import os
import sys
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

from seqkit.recipe.typecheck import Parameters, parameters

log = logging.getLogger("seqkit.recipe")

FORMAT = 1  # of the description; a change of the encoding below bumps it
_BASIC: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "none": type(None)}
_SEQUENCES: dict[str, Any] = {"list": list, "tuple": tuple, "sequence": collections.abc.Sequence}
_MAPPINGS: dict[str, Any] = {"dict": dict, "mapping": collections.abc.Mapping}
_KINDS = {"keyword": inspect.Parameter.KEYWORD_ONLY, "positional_or_keyword": inspect.Parameter.POSITIONAL_OR_KEYWORD}


def trainer_parameters() -> Parameters:
    """Trainer's keyword parameters and hints: from the cached description where it matches the installed
    Lightning and Lightning is not loaded yet, else from Lightning itself (and cached for the next time)."""
    key = _fingerprint()
    path = _cache_file(key) if key else None
    loaded = "pytorch_lightning" in sys.modules
    if path is not None and not loaded:
        cached = _read(path, key)
        if cached is not None:
            return cached
    from pytorch_lightning import Trainer

    live = parameters(Trainer)
    # with Lightning loaded already (`train`, a test) the file is kept only where it is missing, not at every run
    if path is not None and (not loaded or _read(path, key) is None) and all(p != path for p, _, _ in _pending):
        _pending.append((path, key, live))
    return live


def keep(write: bool = True) -> None:
    """Write the descriptions read from Lightning since the last call, or drop them (the CLI calls this when a
    command ends, writing only if it succeeded: a command refusing its input writes nothing)."""
    while _pending:
        found = _pending.pop()
        if write:
            _write(*found)


_pending: list[tuple[Path, str, Parameters]] = []


def encode(hint: Any) -> Any:
    """*hint* as JSON data: the types a recipe's YAML values can be checked against, anything else by name."""
    hint_args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return "any"
    for name, basic in _BASIC.items():
        if hint is basic or (name == "none" and hint is None):
            return name
    if origin is typing.Annotated:  # Lightning declares no bounds: the type alone
        return encode(hint_args[0])
    if origin is typing.Literal and all(isinstance(v, str | int | float | bool) or v is None for v in hint_args):
        return {"literal": list(hint_args)}
    if origin in (typing.Union, types.UnionType):
        return {"union": [encode(a) for a in hint_args]}
    for name, kind in _SEQUENCES.items():
        if hint is kind or origin is kind:
            return {name: ["..." if a is Ellipsis else encode(a) for a in hint_args]}
    for name, kind in _MAPPINGS.items():
        if hint is kind or origin is kind:
            return {name: [encode(a) for a in hint_args]}
    return {"class": str(getattr(hint, "__name__", None) or getattr(origin, "__name__", None) or "object")}


def decode(data: Any) -> Any:
    """The type :func:`encode` described; ValueError for anything outside its vocabulary."""
    if isinstance(data, str):
        if data == "any":
            return Any
        if data in _BASIC:
            return _BASIC[data]
        raise ValueError(f"unknown type {data!r}")
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError(f"expected a one-key mapping, got {data!r}")
    ((name, value),) = data.items()
    if name == "class" and isinstance(value, str):
        return type(value, (), {})  # a class YAML cannot express: passes the check, described by its name
    if not isinstance(value, list):
        raise ValueError(f"expected a list under {name!r}")
    if name == "literal" and value and all(isinstance(v, str | int | float | bool) or v is None for v in value):
        return typing.Literal[tuple(value)]
    if name == "union" and value:
        return typing.Union[tuple(decode(a) for a in value)]  # noqa: UP007 (built from a list of types)
    if name in _SEQUENCES:
        inner = tuple(Ellipsis if a == "..." else decode(a) for a in value)
        return _SEQUENCES[name][inner] if inner else _SEQUENCES[name]
    if name in _MAPPINGS and len(value) in (0, 2):
        inner = tuple(decode(a) for a in value)
        return _MAPPINGS[name][inner] if inner else _MAPPINGS[name]
    raise ValueError(f"unknown type {data!r}")


def describe_parameters(found: Parameters) -> dict[str, Any]:
    """*found* as JSON data (:func:`encode` for each hint)."""
    named, hints, var_kw = found
    entries = []
    for name, param in named.items():
        kind = next(k for k, v in _KINDS.items() if v is param.kind)
        entry = {"name": name, "kind": kind, "required": param.default is inspect.Parameter.empty}
        if name in hints:
            entry["hint"] = encode(hints[name])
        entries.append(entry)
    return {"parameters": entries, "var_keyword": var_kw}


def read_parameters(data: Any) -> Parameters:
    """What :func:`describe_parameters` described; ValueError where *data* is not such a description."""
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), list):
        raise ValueError("expected a mapping with a list of parameters")
    named: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for entry in data["parameters"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or entry.get("kind") not in _KINDS:
            raise ValueError(f"not a parameter: {entry!r}")
        name = entry["name"]
        default = inspect.Parameter.empty if entry.get("required") is True else None
        named[name] = inspect.Parameter(name, _KINDS[entry["kind"]], default=default)
        if "hint" in entry:
            hints[name] = decode(entry["hint"])
    return Parameters(named, hints, data.get("var_keyword") is True)


def _fingerprint() -> str | None:
    """Lightning's version and the size and time of the files its Trainer's hints come from, or None where
    Lightning cannot be found without importing it."""
    try:
        version = importlib.metadata.version("pytorch_lightning")
        parts = [f"{FORMAT}", version, f"py{sys.version_info[0]}.{sys.version_info[1]}"]
        for package, file in (("pytorch_lightning", "trainer/trainer.py"), ("lightning_fabric", "connector.py")):
            spec = importlib.util.find_spec(package)  # a top-level package: found, not imported
            if spec is None or not spec.submodule_search_locations:
                return None
            stat = (Path(next(iter(spec.submodule_search_locations))) / file).stat()
            parts.append(f"{stat.st_size}-{stat.st_mtime_ns}")
        return "/".join(parts)
    except (OSError, ValueError, ImportError, importlib.metadata.PackageNotFoundError):
        return None


def _cache_file(key: str) -> Path:
    from seqkit.data.download import cache_dir

    # the whole key in the name: environments sharing a cache folder (another Python, another install of the same
    # version) keep a file each instead of replacing each other's
    version, digest = key.split("/")[1], hashlib.sha256(key.encode()).hexdigest()[:16]
    # absolute: written when the command ends, from wherever it then runs
    return cache_dir().absolute() / "signatures" / f"lightning-trainer-{version}-{digest}.json"


def _read(path: Path, key: str) -> Parameters | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None  # another Lightning, or a file from another seqkit
        return read_parameters(data.get("trainer"))
    except (OSError, ValueError, TypeError, RecursionError) as exc:
        log.debug("%s: not used (%s)", path, exc)
        return None


def _write(path: Path, key: str, found: Parameters) -> None:
    try:
        text = json.dumps({"key": key, "trainer": describe_parameters(found)}, indent=1)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".signature-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, path)  # whole or not at all: a concurrent reader never sees half a file
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except (OSError, TypeError, ValueError) as exc:  # a read-only cache: checked from Lightning each time
        log.debug("%s: not written (%s)", path, exc)
