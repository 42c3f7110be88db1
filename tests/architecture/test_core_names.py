"""The core names no built-in plugin: what it asks of a cell, task or kernel is on the contract, not a name."""

from __future__ import annotations

import ast
from pathlib import Path

from seqkit.plugins import PluginManager
from tests.helpers import ROOT

CORE = ROOT / "seqkit"


def registered_names() -> set[str]:
    """Every name the built-in plugins register: cells, kernels, tasks, data sources, tokenizers, callbacks."""
    manager = PluginManager()
    names = {kernel.name for kernel in manager.kernels} | {kernel.key for kernel in manager.kernels}
    for registry in (manager.cells, manager.tasks, manager.datasets, manager.tokenizers, manager.callbacks):
        names |= set(registry.names())
    return names - {"reference", "generic"}  # the core's own kernels


def string_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of every string constant in *path*, f-strings' parts too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_core_module_holds_a_built_in_plugin_s_registered_name():
    names = registered_names()
    assert {"gru", "lstm", "translation", "native"} <= names  # the check would catch the names it was written for
    found = [
        f"{path.relative_to(CORE.parent)}:{line}: {text!r}"
        for path in sorted(CORE.rglob("*.py"))
        if "testing" not in path.relative_to(CORE).parts
        for line, text in string_literals(path)
        if text.strip() in names
    ]
    assert not found, "the core names built-in plugins:\n" + "\n".join(found)
