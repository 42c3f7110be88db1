"""The public plugin-author API: plugins, example packages and third-party test packages use only it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import seqkit
from tests.helpers import ROOT

AUTHOR_CODE = ("plugins", "docs/examples", "tests/thirdparty")
# The public modules: ``seqkit`` itself, and the conformance kit a plugin's own tests call.
PUBLIC_MODULES = {"seqkit", "seqkit.testing"}


def _author_files() -> list[Path]:
    return sorted(p for root in AUTHOR_CODE for p in (ROOT / root).rglob("*.py"))


def private_uses(source: str) -> list[str]:
    """Each use of a seqkit module or name outside the public API in *source*: ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module
            if (module == "seqkit" or module.startswith("seqkit.")) and module not in PUBLIC_MODULES:
                found.append(f"{node.lineno}: from {module} import ...")
            if module == "seqkit":
                found += [f"{node.lineno}: seqkit.{a.name}" for a in node.names if a.name not in seqkit.__all__]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("seqkit.") and alias.name not in PUBLIC_MODULES:
                    found.append(f"{node.lineno}: import {alias.name}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "seqkit"
            and node.attr not in {*seqkit.__all__, "testing"}
        ):
            found.append(f"{node.lineno}: seqkit.{node.attr}")
    return found


def test_the_scan_finds_private_imports() -> None:
    bad = "from seqkit.cell import Cell\nimport seqkit.lengths\nimport seqkit\nseqkit.kernels.AUTO\n"
    assert [u.split(": ")[1] for u in private_uses(bad)] == [
        "from seqkit.cell import ...",
        "import seqkit.lengths",
        "seqkit.kernels",
    ]
    assert private_uses("from seqkit import Cell, Task\nfrom seqkit.testing import check_cell\nseqkit.Spec\n") == []


@pytest.mark.parametrize("path", _author_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugin_code_imports_only_the_public_api(path: Path) -> None:
    uses = private_uses(path.read_text(encoding="utf-8"))
    assert not uses, f"{path.relative_to(ROOT)} uses seqkit outside its public API: {uses}"


def test_every_public_name_is_documented() -> None:
    text = (ROOT / "docs/plugins/api.md").read_text(encoding="utf-8")
    missing = [name for name in seqkit.__all__ if f"`{name}" not in text]
    assert not missing, f"docs/plugins/api.md does not document {missing}"


def test_public_functions_are_typed() -> None:
    untyped = []
    for name in seqkit.__all__:
        obj = getattr(seqkit, name)
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            if sig.return_annotation is inspect.Signature.empty or any(
                p.annotation is inspect.Parameter.empty for p in sig.parameters.values()
            ):
                untyped.append(name)
    assert not untyped, f"public functions without full type hints: {untyped}"
