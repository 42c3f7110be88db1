"""``seqkit validate``: every problem of a bad recipe at once, each with file, line, key path and a suggestion."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers import ROOT
from tests.recipe_helpers import cli, quickstart, write, write_recipe


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").rglob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_recipes_are_valid(capsys, recipe):
    code, out, err = cli(capsys, "validate", recipe)
    assert code == 0, err
    assert "ok" in out


def test_first_line_of_each_recipe_is_the_command_that_runs_it():
    for recipe in (ROOT / "recipes").rglob("*.yaml"):
        assert recipe.read_text().startswith("# seqkit train "), recipe


def test_recipe_found_by_name(capsys):
    assert cli(capsys, "validate", "gru_polarity")[0] == 0
    code, _, err = cli(capsys, "validate", "quikstart")
    assert code == 2 and "did you mean 'quickstart'" in err


BAD_CASES = {
    "unknown section": ("optimizer: {lr: 0.1}", "recipe.yaml:9: optimizer: unknown section; did you mean 'optim'?"),
    "unknown kind": (
        "tokenizer: {kind: wrod}",
        "recipe.yaml:8: tokenizer.kind: unknown tokenizer 'wrod'; did you mean 'word'?",
    ),
    "unknown data key": (
        "data: {kind: synthetic_sentiment, sise: 10}",
        "data.sise: unknown key for data source 'synthetic_sentiment'; did you mean 'size'?",
    ),
    "wrong type": (
        "data: {kind: synthetic_sentiment, batch_size: many}",
        "data.batch_size: expected an integer, got 'many'",
    ),
    "bad choice": (
        "task: {kind: sentiment, pooling: maximum}",
        "task.pooling: expected one of 'last', 'mean', 'max', 'attention', got 'maximum'; did you mean 'max'?",
    ),
    "missing required": ("model: {cell: {kind: gru}}", "model.cell.hidden_size: missing required value"),
    "unknown cell option": (
        "model: {cell: {kind: gru, hidden_size: 8, reset_afterr: true}}",
        "model.cell.reset_afterr: unknown key for cell 'gru'; did you mean 'reset_after'?",
    ),
    "unknown backend": (
        "model: {cell: {kind: gru, hidden_size: 8, backend: cudn}}",
        "model.cell.backend: no kernel 'cudn' for cell 'gru'; did you mean 'cudnn'?",
    ),
    "trainer key": (
        "trainer: {max_epoch: 3}",
        "trainer.max_epoch: unknown key for pytorch_lightning.Trainer; did you mean 'max_epochs'",
    ),
    "optim kind": (
        "optim: {kind: adamm}",
        "optim.kind: expected one of 'adam', 'adamw', 'sgd', got 'adamm'; did you mean 'adam'",
    ),
    "schedule": ("optim: {schedule: cosin}", "did you mean 'cosine'?"),
    "callback": (
        "callbacks: {early_stoping: {patience: 1}}",
        "callbacks.early_stoping: unknown callback; did you mean 'early_stopping'?",
    ),
    "monitor": ("monitor: val/acc", "monitor: task 'sentiment' logs no 'val/acc'; did you mean 'val/accuracy'"),
    "missing value": ("seed: ???", "seed: missing required value"),
    "owned trainer key": ("trainer: {logger: false}", "trainer.logger: not settable here"),
    "interpolation": ("run_dir: ${nowhere}", "run_dir: cannot resolve"),
}


def _recipe_with(tmp_path, override_line):
    base = """
    seed: 1
    data: {kind: synthetic_sentiment, size: 50}
    tokenizer: {kind: word}
    task: {kind: sentiment}
    model:
      cell: {kind: gru, hidden_size: 8}
    optim: {kind: adam}
    trainer: {max_epochs: 1}
    """
    key = override_line.split(":")[0]
    lines = [line for line in textwrap.dedent(base).strip("\n").splitlines() if not line.strip().startswith(f"{key}:")]
    if key == "model":
        lines = [line for line in lines if "cell:" not in line]
    return write(tmp_path / "recipe.yaml", "\n".join(lines) + "\n" + override_line + "\n")


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_recipe_is_reported_with_key_and_suggestion(capsys, tmp_path, case):
    line, expected = BAD_CASES[case]
    recipe = _recipe_with(tmp_path, line)
    code, out, err = cli(capsys, "validate", recipe)
    assert code == 2, out
    assert expected in err
    assert str(recipe) in err
    assert "Traceback" not in err


def test_all_problems_reported_together(capsys, tmp_path):
    recipe = quickstart()
    recipe["data"]["batch_size"] = "x"
    recipe["tokenizer"]["kind"] = "wrod"
    recipe["model"]["cell"]["hidden_sise"] = 3
    recipe["optimizer"] = {}
    path = write_recipe(tmp_path / "many.yaml", recipe)
    code, _, err = cli(capsys, "validate", path)
    assert code == 2
    assert "problems in the recipe" in err
    for key in ("data.batch_size", "tokenizer.kind", "model.cell.hidden_sise", "optimizer"):
        assert f": {key}: " in err
    # each problem names the line of its key in the file
    lines = path.read_text().splitlines()
    row = next(i for i, text in enumerate(lines, 1) if "batch_size" in text)
    assert f"{path}:{row}: data.batch_size" in err


def test_overrides_are_validated_and_named_as_command_line(capsys):
    code, _, err = cli(capsys, "validate", "quickstart", "trainer.max_epochs=three", "model.cell.num_layer=2")
    assert code == 2
    assert "command line: trainer.max_epochs: expected" in err
    assert "command line: model.cell.num_layer: unknown key for cell 'gru'; did you mean 'num_layers'?" in err


def test_override_without_equals_sign(capsys):
    code, _, err = cli(capsys, "validate", "quickstart", "trainer.max_epochs")
    assert code == 2 and "is not key=value" in err


def test_interpolation_and_overrides_apply(tmp_path):
    from seqkit.recipes import load_recipe

    recipe = quickstart()
    recipe["model"]["embed_dim"] = "${model.cell.hidden_size}"
    path = write_recipe(tmp_path / "interp.yaml", recipe)
    loaded = load_recipe(path, ["model.cell.hidden_size=24"])
    assert loaded.data["model"]["embed_dim"] == 24
    assert loaded.name == "interp"


def test_invalid_yaml_names_the_line(capsys, tmp_path):
    path = write(tmp_path / "broken.yaml", "seed: 1\ndata: {kind: table\n")
    code, _, err = cli(capsys, "validate", path)
    assert code == 2 and f"{path}:" in err and "not valid YAML" in err


def test_sections_of_the_wrong_shape(capsys, tmp_path):
    path = write(tmp_path / "shapes.yaml", "data: [1, 2]\ntokenizer: word\ntask: 5\nmodel: {cell: gru}\ntrainer:\n")
    code, _, err = cli(capsys, "validate", path)
    assert code == 2
    assert f"{path}:1: data: expected a mapping, got [1, 2]" in err
    assert "tokenizer: expected a mapping, got 'word'" in err
    assert "task: expected a mapping, got 5" in err
    assert "model.cell: expected a mapping, got 'gru'" in err


def test_ls_lists_recipes_and_registries(capsys):
    code, out, _ = cli(capsys, "ls")
    assert code == 0
    for expected in ("recipes:", "quickstart", "sentiment/gru_polarity", "cells:", "gru ", "kernels:", "gru/native"):
        assert expected in out
    for expected in (
        "tasks:",
        "sentiment ",
        "datasets:",
        "sentence_polarity",
        "table",
        "tokenizers:",
        "bpe",
        "callbacks:",
    ):
        assert expected in out
    code, out, _ = cli(capsys, "ls", "tokenizers")
    assert out.splitlines()[0] == "tokenizers:" and "recipes:" not in out


def test_ls_kernels_names_every_kernel_a_backend_can_name(capsys):
    """`generic` and `reference` are seqkit's own, not a plugin's, and run every cell: listed all the same."""
    code, out, _ = cli(capsys, "ls", "kernels")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert "gru/native" in names and "lstm/native" in names
    assert names[-2:] == ["generic", "reference"]
    assert "priority 10;" in out.splitlines()[-2] and "priority 0;" in out.splitlines()[-1]


REVIEW_CASES = {
    "interpolation in a list": ("optim:\n  betas:\n    - ${nope}\n    - 0.9\n", "optim.betas.0: cannot resolve"),
    "??? in a list": ("optim:\n  betas: ['???', 0.9]\n", "optim.betas"),
    "non-string key": ("1: 2\n", ": 1: unknown section"),
    "kind that is a list": (
        "tokenizer: {kind: [word]}\n",
        "tokenizer.kind: expected the name of a registered tokenizer",
    ),
    "monitor that is a number": ("monitor: 5\n", "monitor: expected a string or null, got 5"),
    "falsy non-mapping section": ("optim: 0\n", "optim: expected a mapping, got 0"),
    "run_dir left open": ("run_dir: ???\n", "run_dir: missing required value"),
    "out of range": (
        "data: {kind: synthetic_sentiment, batch_size: 0}\n",
        "data.batch_size: expected at least 1, got 0",
    ),
    "nesterov without momentum": (
        "optim: {kind: sgd, nesterov: true}\n",
        "optim.nesterov: nesterov needs optim.momentum",
    ),
    "unknown split": ("data: {kind: synthetic_sentiment, split: {train: 0.5}}\n", "data.split.train: unknown split"),
    "no threads": ("trainer: {threads: 0}\n", "trainer.threads: expected a whole number of threads in [1, 4096]"),
    "threads in words": ("trainer: {threads: two}\n", "trainer.threads: expected an integer or null, got 'two'"),
    "threads as a flag": ("trainer: {threads: true}\n", "trainer.threads: expected an integer or null, got True"),
    "threads left open": ("trainer:\n  threads: ???\n", "trainer.threads: missing required value"),
}


@pytest.mark.parametrize("case", sorted(REVIEW_CASES))
def test_more_bad_recipes_without_tracebacks(capsys, tmp_path, case):
    extra, expected = REVIEW_CASES[case]
    base = quickstart()
    for key in ("optim", "tokenizer", "monitor", "data", "run_dir", "trainer"):
        if extra.startswith(f"{key}:"):
            base.pop(key, None)
    path = tmp_path / "r.yaml"
    write_recipe(path, base)
    path.write_text(path.read_text() + extra)
    code, _, err = cli(capsys, "validate", path)
    assert code == 2 and expected in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "overrides,expected",
    [
        (["data.split=[1,2]"], "command line: cannot apply 'data.split=[1,2]'"),
        (["data.size=[1"], "command line: cannot apply 'data.size=[1'"),
        (["data.size=${nope}", "tokenizer.kind=wrod"], "3 problems"),
        (["model.cell.foo.bar=1"], "command line: model.cell.foo"),
    ],
)
def test_bad_overrides_are_one_error_each(capsys, overrides, expected):
    code, _, err = cli(capsys, "validate", "quickstart", *overrides, *(["bogus=1"] if "3 problems" in expected else []))
    assert code == 2 and expected in err, err


def test_train_checks_the_recipe_before_touching_run_dir_or_resume(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "quickstart", "run_dir=5")
    assert code == 2 and "command line: run_dir: expected a string or null, got 5" in err
    code, _, err = cli(capsys, "train", "quickstart", "resume=last", "tokenizer.kind=wrod", f"run_dir={tmp_path}")
    assert code == 2 and "tokenizer.kind: unknown tokenizer 'wrod'" in err
    assert not list(tmp_path.iterdir())


def test_non_utf8_recipe(capsys, tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe")
    code, _, err = cli(capsys, "validate", path)
    assert code == 2 and "not UTF-8 text" in err


def test_ambiguous_recipe_name(capsys, tmp_path, monkeypatch):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.yaml").write_text("seed: 1\n")
    monkeypatch.setenv("SEQKIT_RECIPES", str(tmp_path))
    code, _, err = cli(capsys, "validate", "x")
    assert code == 2 and "ambiguous: a/x, b/x" in err


def test_tilde_removes_a_key_so_another_data_source_can_take_the_recipe(capsys, tmp_path):
    """``data.kind=other`` keeps the recipe's keys for its old source; ``~key`` removes one (Hydra's spelling)."""
    files = {}
    for label in ("good", "bad"):
        files[label] = tmp_path / f"{label}.txt"
        files[label].write_text("".join(f"{label} words {i}\n" for i in range(30)))
    swap = ["data.kind=lines_per_label", f"data.files={{good: {files['good']}, bad: {files['bad']}}}"]
    code, _, err = cli(capsys, "validate", "quickstart", *swap)
    assert code == 2 and "data.size: unknown key for data source 'lines_per_label'" in err
    code, out, err = cli(capsys, "validate", "quickstart", *swap, "~data.size", "~data.contrast")
    assert code == 0, err
    assert "ok" in out


def test_tilde_on_a_key_the_recipe_does_not_set_is_a_one_line_error(capsys):
    code, _, err = cli(capsys, "validate", "quickstart", "~data.sise")
    assert code == 2
    assert "command line: ~data.sise: data has no key 'sise' to remove" in err
    code, _, err = cli(capsys, "validate", "quickstart", "~data.size=4000")
    assert code == 2 and "~ takes a key path and no value" in err
    code, _, err = cli(capsys, "validate", "quickstart", "~trainer.max_epochs.deeper")
    assert code == 2 and "trainer.max_epochs has no key 'deeper' to remove" in err


def test_removed_key_takes_its_default(tmp_path):
    from seqkit.recipes import load_recipe

    recipe = load_recipe(write_recipe(tmp_path / "q.yaml", quickstart()), ["~trainer.max_epochs"])
    assert "max_epochs" not in recipe.data["trainer"]
    assert recipe.data["data"]["size"] == 4000
