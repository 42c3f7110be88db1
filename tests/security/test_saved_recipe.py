"""A saved recipe (a run's ``recipe.yaml``, a checkpoint's recipe) reads back as the very data that ran: text that
looks like ``${...}`` (escaped in the recipe, or typed as ``\\${...}``) stays text, and is never taken for a
reference to another key or a resolver call by whoever loads the file later (see docs/security.md)."""

from __future__ import annotations

import torch
import yaml

from seqkit.recipe.load import escaped, from_config, load_recipe
from seqkit.run.checkpoint import read_checkpoint, recipe_of
from tests.recipe_helpers import TINY, cli

# each string reads back as itself; a backslash before ${ must survive too
TEXTS = ["${a}", "${oc.env:SECRET}", "\\${a}", "\\\\${a}", "x\\", "a\\b${c}d", "${${a}}", "$${a}", "${", "${a:${b}}"]


def test_escaped_text_reads_back_as_itself():
    data = {"a": "A", "texts": list(TEXTS), "nested": {"k": TEXTS[1], "n": 3, "f": 1.5, "none": None, "b": True}}
    again = from_config(escaped(data))
    assert again.data == data and again.problems == []
    # text a reference produced (from an escaped value, or an override typed escaped) is saved as text as well
    resolved = from_config({"a": "\\${oc.env:SECRET}", "b": "${a}", "c": "x${a}"}, ["d=\\${b}"]).data
    assert resolved == {"a": "${oc.env:SECRET}", "b": "${oc.env:SECRET}", "c": "x${oc.env:SECRET}", "d": "${b}"}
    assert from_config(escaped(resolved)).data == resolved


def test_a_run_saves_text_that_looks_like_an_interpolation_as_text(tmp_path, capsys, monkeypatch):
    """The file trained on is named ``r_${oc.env:SECRET}_${data.format}.tsv``. Saved unescaped, eval of the
    checkpoint and the printed resume command re-read that name as a resolver call (refused: the run's own checkpoint
    unusable) or, with a reference alone, silently as another file (``r_tsv.tsv``)."""
    monkeypatch.setenv("SECRET", "hunter2")
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    rows = "text\tlabel\n" + "a fine film\tpositive\nan awful film\tnegative\n" * 60
    name = "r_${oc.env:SECRET}_${data.format}.tsv"
    (tmp_path / name).write_text(rows)
    (tmp_path / "r_hunter2_tsv.tsv").write_text("text\tlabel\nnot this file\tSTOLEN\n")
    run = tmp_path / "run"
    typed = name.replace("${", "\\${")  # how a `key=value` override says "this text, not a reference"
    data = ["data.kind=table", "~data.size", "~data.contrast", f"data.path={typed}", "data.format=tsv"]
    code, _, err = cli(capsys, "train", "quickstart", *TINY, *data, f"run_dir={run}")
    assert code == 0, err

    saved = read_checkpoint(run / "best.ckpt")
    assert recipe_of(saved, run / "best.ckpt", []).data["data"]["path"] == name
    assert load_recipe(run / "recipe.yaml").data["data"]["path"] == name  # what `resume=last` reads
    assert yaml.safe_load((run / "recipe.yaml").read_text())["data"]["path"] != name  # escaped in the file
    code, out, err = cli(capsys, "eval", run / "best.ckpt", "--json")
    assert code == 0 and "hunter2" not in out + err and "STOLEN" not in out + err, err

    # what a checkpoint holds stays untrusted: an unescaped resolver call put there by hand is still refused
    saved = torch.load(run / "best.ckpt", weights_only=True)
    saved["seqkit"]["recipe"]["data"]["path"] = "${oc.env:SECRET}"
    torch.save(saved, tmp_path / "t.ckpt")
    code, out, err = cli(capsys, "eval", tmp_path / "t.ckpt")
    assert code == 2 and "calls a resolver" in err and "hunter2" not in out + err, err
