"""Limits on recipe text and data: no resolver calls, bounded size and depth, bounded ``${}`` expansion.

A recipe may come from anywhere (a checkpoint holds one): reading it must neither call code (OmegaConf
resolvers such as ``oc.env``) nor take unbounded time or memory (nested containers, shared references,
``${}`` references that fan out).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import yaml
from omegaconf import grammar_parser
from omegaconf.errors import GrammarParseError
from omegaconf.grammar.gen.OmegaConfGrammarParser import OmegaConfGrammarParser as Grammar

MAX_DEPTH = 32  # containers within containers
MAX_NODES = 20_000  # keys and items in all
MAX_EXPANSION = 1_000_000  # characters the ${} references expand to: one value's, and all values' together
TOTAL_PROBLEM = f"the recipe's ${{}} references expand past {MAX_EXPANSION:,} characters in all"
MAX_REFERENCE_CHAIN = 64  # ${a} -> ${b} -> ...
SCALARS = (str, int, float, bool, type(None))
OMEGACONF_LIMIT = "OMEGACONF_MAX_YAML_EXPANDED_NODES"


class TooBig(Exception):
    """A recipe's containers or references exceed the limits above."""


def shape_problem(data: Any) -> str | None:
    """Why *data* (plain containers) is not a recipe seqkit will read, or None. Shared references (a
    pickle or YAML alias bomb) are counted each time they appear, and the count stops at the limit."""
    count = 0
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        node, depth = pending.pop()
        count += 1
        if count > MAX_NODES:
            return f"more than {MAX_NODES:,} keys and items in all"
        if isinstance(node, dict):
            if depth >= MAX_DEPTH:
                return f"containers nested more than {MAX_DEPTH} deep"
            for key, value in node.items():
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    return f"a key of type {type(key).__name__} ({key!r:.40}); keys are text"
                pending.append((value, depth + 1))
        elif isinstance(node, (list, tuple)):
            if depth >= MAX_DEPTH:
                return f"containers nested more than {MAX_DEPTH} deep"
            pending.extend((value, depth + 1) for value in node)
        elif not isinstance(node, SCALARS):
            return f"a value of type {type(node).__name__}; recipes hold text, numbers, booleans, lists and mappings"
    return None


def yaml_shape_problem(text: str) -> str | None:
    """:func:`shape_problem` for YAML text, on its node graph (before aliases are expanded into copies)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None  # reported by the parser, with its line
    count = 0
    pending = [(root, 0)] if root is not None else []
    while pending:
        node, depth = pending.pop()
        count += 1
        if count > MAX_NODES:
            return f"more than {MAX_NODES:,} keys and items in all (counting each alias)"
        if isinstance(node, yaml.MappingNode):
            if depth >= MAX_DEPTH:
                return f"containers nested more than {MAX_DEPTH} deep"
            pending.extend((value, depth + 1) for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            if depth >= MAX_DEPTH:
                return f"containers nested more than {MAX_DEPTH} deep"
            pending.extend((value, depth + 1) for value in node.value)
    return None


@contextlib.contextmanager
def budget_is_ours() -> Iterator[None]:
    """OmegaConf's own YAML limits (10,000 nodes after aliases, a 100x alias ratio) stood down while it reads text
    that :func:`yaml_shape_problem` has accepted: the documented budget is the one that fires, with its message."""
    previous = os.environ.get(OMEGACONF_LIMIT)
    os.environ[OMEGACONF_LIMIT] = "none"  # read by each OmegaConf call (an older OmegaConf has no limit to lift)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(OMEGACONF_LIMIT, None)
        else:
            os.environ[OMEGACONF_LIMIT] = previous


def leaves(data: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """``(key path, value)`` of every scalar in plain *data*, keys as they are (text with dots, integers)."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else None
    if items is None:
        return [(path, data)] if path else []
    found = []
    for key, value in items:
        found += leaves(value, (*path, key))
    return found


def dotted(path: tuple) -> str:
    return ".".join(str(part) for part in path)


def reference_problem(text: str) -> str | None:
    """Why the ``${}`` in *text* are not plain references to other keys: a resolver call, or a key that is
    itself computed by an interpolation (``${${name}}``, whose target cannot be checked before resolving)."""
    tree = _parse(text)
    for node in _walk(tree):
        if isinstance(node, Grammar.InterpolationResolverContext):
            return f"{node.getText()} calls a resolver; recipes may only refer to other keys (${{a.b}})"
        if isinstance(node, Grammar.InterpolationNodeContext) and any(
            isinstance(inner, Grammar.InterpolationContext) for child in _children(node) for inner in _walk(child)
        ):
            return f"{node.getText()} computes the key it refers to; name the key itself (${{a.b}})"
    return None


def expansion_problems(data: Any) -> dict[tuple, str]:
    """Key path -> why its value's ``${}`` references expand too far (a fan-out or a chain too long)."""
    memo: dict[tuple, int] = {}
    problems: dict[tuple, str] = {}

    def cost(path: tuple, depth: int) -> int:
        if path in memo:
            return memo[path]
        if depth > MAX_REFERENCE_CHAIN:
            raise TooBig(f"references chained more than {MAX_REFERENCE_CHAIN} deep")
        memo[path] = 1  # a cycle counts once; OmegaConf reports it when resolving
        value = _lookup(data, path)
        if isinstance(value, (dict, list)):
            total = sum(cost(sub, depth + 1) for sub, _ in leaves(value, path))
        elif isinstance(value, str) and "${" in value:
            total = len(value) + sum(cost(target, depth + 1) for target in _targets(value, path))
        else:
            total = len(str(value))
        if total > MAX_EXPANSION:
            raise TooBig(f"its ${{}} references expand past {MAX_EXPANSION:,} characters")
        memo[path] = total
        return total

    spent = 0  # what resolving every value makes, in all: many values each under the cap can still be a bomb
    for path, value in leaves(data):
        if isinstance(value, str) and "${" in value:
            if spent > MAX_EXPANSION:  # past the budget: none of the rest is resolved either
                problems[path] = TOTAL_PROBLEM
                continue
            try:
                spent += cost(path, 0)
                if spent > MAX_EXPANSION:
                    problems[path] = TOTAL_PROBLEM
            except TooBig as error:
                problems[path] = str(error)
            except RecursionError:
                problems[path] = f"references chained more than {MAX_REFERENCE_CHAIN} deep"
    return problems


def _targets(text: str, path: tuple) -> list[tuple]:
    """The key paths the ``${}`` references of the value at *path* name (relative ones from its container)."""
    targets = []
    for node in _walk(_parse(text)):
        if not isinstance(node, Grammar.InterpolationNodeContext):
            continue
        parts = [child.getText() for child in _children(node) if isinstance(child, Grammar.ConfigKeyContext)]
        dots = 0
        for child in _children(node)[1:]:
            if child.getText() != ".":
                break
            dots += 1
        base = path[: len(path) - dots] if dots else ()
        targets.append((*base, *parts))
    return targets


def _lookup(data: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(data, dict):
            if part in data:
                data = data[part]
            elif str(part).lstrip("-").isdigit() and int(part) in data:
                data = data[int(part)]
            else:
                return None
        elif isinstance(data, list) and str(part).isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _parse(text: str) -> Any:
    try:
        return grammar_parser.parse(text)
    except GrammarParseError:
        return None  # not an interpolation OmegaConf can read: resolving it reports the error


def _children(node: Any) -> list[Any]:
    return [node.getChild(i) for i in range(node.getChildCount() or 0)]


def _walk(tree: Any) -> list[Any]:
    if tree is None:
        return []
    found, pending = [], [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        pending.extend(reversed(_children(node)))
    return found
