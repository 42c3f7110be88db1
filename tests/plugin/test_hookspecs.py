"""The hook contract is documented: every hook has a full docstring; docs/plugins/hooks.md is generated from them."""

from __future__ import annotations

import inspect
import re

import pytest

from seqkit import hookspecs
from tests.helpers import ROOT

DOCS = ROOT / "docs" / "plugins" / "hooks.md"
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
def test_every_hook_has_a_section_with_its_signature_in_the_docs(name):
    annotation = inspect.signature(getattr(hookspecs, name)).parameters["register"].annotation
    assert f"## `{name}(register: {annotation}) -> None`" in DOCS.read_text()


def test_the_hook_reference_lists_exactly_the_hooks_and_is_up_to_date():
    from seqkit.hookdoc import render

    text = DOCS.read_text()
    assert re.findall(r"^## `(register_\w+)\(", text, flags=re.M) == [h for h in hookdoc_order()]
    assert text == render(), "docs/plugins/hooks.md is stale: python -m seqkit.plugin.hookdoc > docs/plugins/hooks.md"


def hookdoc_order():
    from seqkit.hookdoc import hooks

    assert sorted(hooks()) == sorted(HOOKS)
    return hooks()
