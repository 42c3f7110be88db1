"""Check a recipe section's keys and values against a builder's signature and type hints, before anything runs."""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from seqkit.bounds import range_problem
from seqkit.errors import suggest
from seqkit.plugin.lazy import resolved


def _bare(hint: Any) -> Any:
    """``Annotated[T, ...]`` -> ``T``: the type alone, for the type check (its bounds are checked after)."""
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint


_BASIC = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}


def describe(hint: Any) -> str:
    hint = _bare(hint)
    origin = typing.get_origin(hint)
    if hint in _BASIC:
        return _BASIC[hint]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        # several literal sets (Trainer's precision: 16, '16', '16-mixed', ...) read as one list, each value once
        choices: dict[str, Any] = {}
        for value in (v for a in args if typing.get_origin(a) is typing.Literal for v in typing.get_args(a)):
            choices.setdefault(str(value), value)
        rest = [describe(a) for a in args if typing.get_origin(a) is not typing.Literal]
        if choices:
            return " or ".join(["one of " + ", ".join(repr(v) for v in choices.values()), *rest])
        return " or ".join(rest)
    if origin in (list, tuple, collections.abc.Sequence) or hint in (list, tuple):
        return "a list"
    if origin in (dict, Mapping) or hint is dict:
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def type_problem(value: Any, hint: Any) -> str | None:
    """Why *value* (plain YAML data) does not fit *hint*, or None; hints this cannot judge pass."""
    hint = _bare(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return None
        near = suggest(str(value), [str(a) for a in args]) if isinstance(value, str) else ""
        return f"expected {describe(hint)}, got {value!r}{near}"
    if origin in (typing.Union, types.UnionType):
        checks = [type_problem(value, a) for a in args]
        if any(c is None for c in checks):
            return None
        # a string among several literal sets (Trainer's precision): name every string choice, and the closest
        literals = [typing.get_args(a) for a in args if typing.get_origin(a) is typing.Literal]
        words = [w for choices in literals for w in choices if isinstance(w, str)]
        if words and isinstance(value, str) and not any(a is str for a in args):
            return f"expected one of {', '.join(repr(w) for w in words)}, got {value!r}{suggest(value, words)}"
        return f"expected {describe(hint)}, got {value!r}"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint in (bool, str, type(None)):
        ok = isinstance(value, hint)
    elif origin in (list, tuple, collections.abc.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return f"expected {describe(hint)}, got {value!r}"
        inner = args[0] if args and (origin is not tuple or (len(args) == 2 and args[1] is Ellipsis)) else None
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                return f"expected a list of {len(args)} values, got {value!r}"
            problems = [type_problem(v, a) for v, a in zip(value, args)]
            return next((p for p in problems if p), None)
        return next((p for p in (type_problem(v, inner) for v in value) if p), None) if inner else None
    elif origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, dict):
            return f"expected {describe(hint)}, got {value!r}"
        inner = args[1] if len(args) == 2 else None
        return next((p for p in (type_problem(v, inner) for v in value.values()) if p), None) if inner else None
    else:
        return None  # a class YAML cannot express: the builder checks it
    return None if ok else f"expected {describe(hint)}, got {value!r}"


class Parameters(typing.NamedTuple):
    """What a recipe section is checked against: a builder's keyword parameters, their type hints, and whether
    it takes ``**kwargs``."""

    named: dict[str, inspect.Parameter]
    hints: dict[str, Any]
    var_kw: bool


def parameters(build: Callable, skip: int = 0) -> Parameters:
    """``(keyword parameters, their type hints, takes **kwargs)`` of *build*, skipping *skip* leading ones."""
    build = resolved(build)  # a registration by name: the hints are the named callable's
    target = build.__init__ if inspect.isclass(build) else build
    signature = inspect.signature(build)
    try:
        hints = typing.get_type_hints(target, include_extras=True)  # extras: a seqkit.Range on a number
    except Exception:  # unresolvable annotations: fall back to no type checks
        hints = {}
    params = list(signature.parameters.values())[skip:]
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return Parameters(named, hints, any(p.kind is p.VAR_KEYWORD for p in params))


def check_arguments(
    path: str,
    build: Callable | Parameters,
    values: Mapping[str, Any],
    *,
    skip: int = 0,
    owner: str = "",
    reserved: set[str] = frozenset(),
) -> list[tuple[str, str]]:
    """``(key path, problem)`` for unknown keys, mistyped values and missing required values of *build*'s call
    (*build* itself, or its :class:`Parameters` read before)."""
    named, hints, var_kw = build if isinstance(build, Parameters) else parameters(build, skip)
    problems: list[tuple[str, str]] = []
    for key, value in values.items():
        key_path = f"{path}.{key}" if path else key
        if key in reserved:
            continue
        if key not in named:
            if not var_kw:
                valid = sorted(set(named) | reserved)
                listing = f" Valid keys: {', '.join(valid) or 'none'}" if len(valid) <= 15 else ""
                hint = suggest(str(key), valid) or f" (~{key_path} on the command line removes it)."
                problems.append((key_path, f"unknown key for {owner}{hint}{listing}"))
            continue
        if value == "???":
            problems.append((key_path, f"missing required value ({describe(hints.get(key, Any))})"))
            continue
        hint = hints.get(key, Any)
        problem = type_problem(value, hint) or range_problem(value, hint)
        if problem:
            problems.append((key_path, problem))
    for name, param in named.items():
        if param.default is inspect.Parameter.empty and name not in values and name not in reserved:
            problems.append(
                (
                    f"{path}.{name}" if path else name,
                    f"missing required value for {owner} ({describe(hints.get(name, Any))})",
                )
            )
    return problems
