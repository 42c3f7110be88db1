"""The code users copy from the docs runs (the README example, the plugin tutorials' code), and every link holds."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

import seqkit
from tests.docs.doc_blocks import blocks, documents
from tests.helpers import ROOT


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)  # blocks the docs test runs


def test_readme_example_runs():
    namespace: dict = {}
    exec(python_blocks(ROOT / "README.md")[0], namespace)
    assert namespace["output"].shape == (32, 100, 512)
    assert namespace["state"].shape == (4, 32, 256)
    assert namespace["cho"].cell.reset_after is False
    assert isinstance(namespace["lstm"], torch.nn.LSTM)


def test_plugin_tutorial_cell_registers_and_runs(monkeypatch):
    namespace: dict = {}
    cell_code, register_code = python_blocks(ROOT / "docs" / "plugins" / "cell-tutorial.md")[:2]
    exec(cell_code, namespace)
    cell_module = types.ModuleType("seqkit_mgu.cell")  # what the registration names: seqkit_mgu.cell:MGUCell
    cell_module.__dict__.update(namespace)
    monkeypatch.setitem(sys.modules, "seqkit_mgu", types.ModuleType("seqkit_mgu"))
    monkeypatch.setitem(sys.modules, "seqkit_mgu.cell", cell_module)
    module = types.ModuleType("seqkit_mgu_tutorial")
    exec(register_code, module.__dict__)
    manager = seqkit.PluginManager([("mgu", module)])
    layer = seqkit.create_rnn("mgu", 3, 4, num_layers=2, bidirectional=True, plugins=manager)
    out, state = layer(torch.randn(2, 5, 3), torch.tensor([5, 3]))
    assert out.shape == (2, 5, 8) and state.shape == (4, 2, 4)
    assert torch.all(out[1, 3:] == 0)


def test_plugin_tutorial_data_source_reads_and_reports_bad_lines(tmp_path):
    from seqkit.data import DataError

    namespace: dict = {}
    (block,) = [b for b in python_blocks(ROOT / "docs" / "plugins" / "task-tutorial.md") if "def reviews" in b]
    exec(block, namespace)
    (tmp_path / "r.tsv").write_text("pos\tfine\nneg\tdull\n")
    assert namespace["reviews"](str(tmp_path / "r.tsv"))[1] == {"text": "dull", "label": "neg"}
    (tmp_path / "bad.tsv").write_text("pos\tfine\nno tab here\n")
    with pytest.raises(DataError, match="bad.tsv:2: expected label<TAB>text"):
        namespace["reviews"](str(tmp_path / "bad.tsv"))


def test_readme_first_command_after_setup_is_the_quickstart():
    text = (ROOT / "README.md").read_text()
    setup_line = text[: text.index("## Set up")].count("\n") + 1
    commands = [b.text for b in blocks(ROOT / "README.md") if b.language == "bash" and b.line > setup_line]
    assert commands[1].strip() == "seqkit train quickstart"


@pytest.mark.slow
def test_quickstart_as_documented_learns_word_order(tmp_path, monkeypatch, capsys):
    """The README's first command, unchanged: a GRU gets the order-dependent corpus right."""
    import json

    from seqkit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "quickstart"]) == 0
    (run,) = [p for p in (tmp_path / "runs" / "quickstart").iterdir() if p.name != "latest"]
    assert (tmp_path / "runs" / "quickstart" / "latest").resolve() == run.resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/accuracy"] >= 0.9


DOCUMENTS = documents()


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_that_exists(doc):
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        path = (doc.parent / target.partition("#")[0]).resolve()
        assert path.exists(), f"{doc.relative_to(ROOT)}: broken link {target}"


def test_the_plugin_docs_cover_the_kit_and_the_examples():
    index = (ROOT / "docs" / "plugins" / "README.md").read_text()
    for page in ("cell-tutorial.md", "task-tutorial.md", "hooks.md", "testing.md"):
        assert f"]({page})" in index
    testing = (ROOT / "docs" / "plugins" / "testing.md").read_text()
    for check in ("check_cell", "check_kernel", "check_task", "check_dataset"):
        assert f"## `{check}(" in testing
