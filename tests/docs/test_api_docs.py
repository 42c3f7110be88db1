"""The plugin API's reference says what an outside author needs: the layer's attributes, the task contract, the
hook types by the names seqkit exports."""

from __future__ import annotations

import inspect
import re

import torch

import seqkit
from seqkit import hookspecs
from tests.helpers import ROOT

API = (ROOT / "docs/plugins/api.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = API.index(title)
    end = API.find("\n## ", start + len(title))
    following = API.find("\n### ", start + len(title))
    ends = [e for e in (end, following) if e != -1]
    return API[start : min(ends) if ends else len(API)]


def test_every_type_the_hook_reference_names_is_exported():
    hooks = (ROOT / "docs/plugins/hooks.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(Register[A-Za-z]*)`", hooks))
    assert "RegisterSpec" in named
    for name in named:
        assert getattr(seqkit, name) is getattr(hookspecs, name), name


def test_every_public_attribute_of_a_layer_is_in_its_table():
    layer = seqkit.create_rnn("gru", 2, 3)
    own = {name for name in dir(layer) if not name.startswith("_") and not hasattr(torch.nn.Module, name)}
    own -= {name for name, _ in layer.named_parameters()} | {"training"}
    table = section("### `Recurrent`")
    missing = sorted(name for name in own if f"`{name}" not in table)
    assert not missing, f"docs/plugins/api.md's Recurrent table leaves out {missing}"
    assert "output_size" in own and "forward(x, lengths=None, state=None, *, extras=None)" in table


def test_every_task_method_is_in_the_contract_with_its_parameters():
    table = section("## The task contract")
    for name, method in inspect.getmembers(seqkit.Task, inspect.isfunction):
        if name.startswith("_"):
            continue
        row = next((line for line in table.splitlines() if f"`{name}(" in line), None)
        assert row is not None, f"the task contract leaves out {name}"
        for parameter in list(inspect.signature(method).parameters)[1:]:
            assert parameter in row, f"the task contract's {name} row leaves out its parameter {parameter!r}"
    for attribute in ("needs_tokenizer", "monitor", "monitor_mode"):
        assert f"`{attribute}`" in table


def test_located_records_are_explained_with_their_constructor():
    records = section("## Records")
    assert "`Located(where, **fields)`" in records and "where_of(record, fallback)" in records
    record = seqkit.Located("reviews.tsv:3", text="fine", label="pos")
    assert record == {"text": "fine", "label": "pos"} and seqkit.where_of(record, "?") == "reviews.tsv:3"


def test_the_cell_tutorial_documents_step_s_keywords_and_output_width():
    tutorial = (ROOT / "docs/plugins/cell-tutorial.md").read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", tutorial, flags=re.S)  # not only in an example
    assert "step(params, u_t, state, *, extras, layer, direction)" in prose
    assert "`output_size`" in prose
    assert "a few percent" not in tutorial  # what was measured: 6 % and 12 %
