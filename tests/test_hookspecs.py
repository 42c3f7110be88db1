"""The hook contract is documented: every hook has a full docstring and a section in docs/hooks.md."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from seqkit import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "seqkit_spec")]


def test_the_expected_hooks_exist():
    assert (
        set(HOOKS)
        == set(hookspecs.REGISTRIES)
        == {
            "register_cells",
            "register_kernels",
            "register_tasks",
            "register_datasets",
            "register_tokenizers",
            "register_callbacks",
        }
    )


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_docstring(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert len(doc.split()) >= 20, f"{name} needs a docstring that explains it"
    assert "register(" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_section_in_the_docs(name):
    assert f"## `{name}(register)`" in DOCS.read_text()
