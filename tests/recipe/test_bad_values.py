"""Values `seqkit validate` once passed and `seqkit train` then failed on: both commands now refuse each of them,
before anything runs, in one line naming the key and what was expected (exit status 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.recipe_helpers import TINY, cli


def refused(capsys, tmp_path: Path, *overrides: str, recipe: str = "quickstart", train: bool = True) -> list[str]:
    """The one-line errors of `seqkit validate` and (with *train*) `seqkit train` for *recipe* with *overrides*."""
    messages = []
    for command in ("validate", "train") if train else ("validate",):
        run = tmp_path / f"{command}-run"
        extra = [*TINY, f"run_dir={run}"] if command == "train" else []
        code, out, err = cli(capsys, command, recipe, *extra, *overrides)
        assert code == 2, f"seqkit {command} exited {code}: {out}{err}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"seqkit {command}: error: "), err
        assert "Traceback" not in err and "internal error" not in err
        assert not run.exists(), "a run directory was made"
        messages.append(lines[0])
    return messages


# -- `key=???` on the command line makes the key missing, as `???` in the file does ---------------------------------
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("seed=???", "command line: seed: missing required value (an integer or null)"),
        ("data.kind=???", "command line: data.kind: missing: name a registered data source"),
        ("model.cell.hidden_size=???", "command line: model.cell.hidden_size: missing required value (an integer)"),
        ("trainer.max_epochs=???", "command line: trainer.max_epochs: missing required value"),
        ("callbacks.early_stopping.patience=???", "command line: callbacks.early_stopping.patience: missing required"),
        ("seed='???'", "command line: seed: missing required value"),  # quoted, as YAML reads it: the same string
        ("data={kind: '???', size: 10}", "command line: data.kind: missing: name a registered data source"),
    ],
)
def test_a_missing_value_on_the_command_line_replaces_the_recipe_s(capsys, tmp_path, override, expected):
    for message in refused(capsys, tmp_path, override):
        assert expected in message, message


def test_a_later_override_fills_a_key_an_earlier_one_left_missing(capsys):
    code, _, err = cli(capsys, "validate", "quickstart", "seed=???", "seed=7")
    assert code == 0, err


# -- a probability is a finite number in [0, 1): NaN and infinities included, wherever a model draws with one ---------
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0", "-0.5"])
@pytest.mark.parametrize("key", ["model.dropout", "model.word_dropout", "model.cell.dropout", "model.cell.zoneout"])
def test_a_probability_outside_0_1_is_refused_at_its_key(capsys, tmp_path, key, value):
    for message in refused(capsys, tmp_path, f"{key}={value}", train=key == "model.dropout"):
        assert f"command line: {key}: expected in [0, 1), got " in message, message


@pytest.mark.parametrize(
    ("recipe", "key"),
    [
        ("tagging/gru_toy", "model.dropout"),
        ("tagging/gru_toy", "model.word_dropout"),
        ("translation/gru_reverse", "model.dropout"),
        ("translation/gru_reverse", "task.label_smoothing"),
    ],
)
def test_every_built_in_task_declares_its_probabilities(capsys, tmp_path, recipe, key):
    (message,) = refused(capsys, tmp_path, f"{key}=.nan", recipe=recipe, train=False)
    assert f"command line: {key}: expected in [0, 1), got nan" in message, message


def test_unk_replace_may_be_1_every_rare_word_read_as_unknown(capsys, tmp_path):
    assert cli(capsys, "validate", "tagging/gru_toy", "model.unk_replace=1.0")[0] == 0
    (message,) = refused(capsys, tmp_path, "model.unk_replace=.nan", recipe="tagging/gru_toy", train=False)
    assert "command line: model.unk_replace: expected in [0, 1], got nan" in message, message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.contrast=.nan", "data.contrast: expected in [0, 1], got nan"),
        ("model.nbsvm=1.0", "model.nbsvm: expected in (0, 1), got 1.0"),
        ("model.ngram_weight=0", "model.ngram_weight: expected in (0, 1), got 0"),
    ],
)
def test_other_shares_and_fractions_are_declared_too(capsys, tmp_path, override, expected):
    (message,) = refused(capsys, tmp_path, override, "model.ngrams=2", train=False)
    assert f"command line: {expected}" in message, message


def test_zero_and_negative_zero_are_valid_probabilities(capsys):
    code, _, err = cli(
        capsys, "validate", "quickstart", "model.dropout=-0.0", "model.word_dropout=0", "model.cell.dropout=0.5"
    )
    assert code == 0, err


# -- optim.betas: two numbers, each in [0, 1) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[1.5,0.9]", "item 0: expected in [0, 1), got 1.5"),
        ("[0.9,1.0]", "item 1: expected in [0, 1), got 1.0"),
        ("[-0.1,0.9]", "item 0: expected in [0, 1), got -0.1"),
        ("[.nan,0.9]", "item 0: expected in [0, 1), got nan"),
        ("[0.9,.inf]", "item 1: expected in [0, 1), got inf"),
        ("[0.9]", "expected a list of 2 values, got [0.9]"),
        ("[0.9,0.99,0.999]", "expected a list of 2 values"),
        ("[a,0.9]", "expected a number, got 'a'"),
        ("[true,0.9]", "expected a number, got True"),
        ("0.9", "expected a list, got 0.9"),
    ],
)
def test_optim_betas_are_two_numbers_in_0_1(capsys, tmp_path, value, expected):
    for message in refused(capsys, tmp_path, f"optim.betas={value}"):
        assert f"command line: optim.betas: {expected}" in message, message


def test_optim_betas_in_range_pass(capsys):
    code, _, err = cli(capsys, "validate", "quickstart", "optim.betas=[0,0.5]")
    assert code == 0, err


# -- trainer.devices: what Lightning's Trainer takes on some accelerator (tests/run: what this machine can run) ------
@pytest.mark.parametrize(
    "value", ["abc", "-2", "0", "[]", "[-1]", "[0,0]", "AUTO", "''", "','", "'0,a'", "'1.5'", "'0, '", "'-2'", "'0'"]
)
def test_devices_lightning_cannot_parse_are_refused(capsys, tmp_path, value):
    messages = refused(capsys, tmp_path, "trainer.accelerator=auto", f"trainer.devices={value}")
    for message in messages:
        assert "command line: trainer.devices: expected a count in [1, 4096], -1 (all), 'auto'" in message, message


@pytest.mark.parametrize(
    "value", ["1", "2", "-1", "auto", "'3'", "' 2 '", "'-1'", "[0]", "[1,0]", "'0,1'", "'1,'", "' 0 , 2'"]
)
def test_devices_lightning_takes_pass_validation(capsys, value):
    code, _, err = cli(capsys, "validate", "quickstart", "trainer.accelerator=auto", f"trainer.devices={value}")
    assert code == 0, err


# -- callbacks declare their options' ranges in their builders' signatures, as any plugin can ------------------------
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("callbacks.early_stopping.patience=-1", "callbacks.early_stopping.patience: expected 0 or more, got -1"),
        (
            "callbacks.early_stopping.min_delta=.nan",
            "callbacks.early_stopping.min_delta: expected a finite number, 0 or more, got nan",
        ),
        (
            "callbacks.early_stopping.min_delta=.inf",
            "callbacks.early_stopping.min_delta: expected a finite number, 0 or more, got inf",
        ),
        ("callbacks.early_stopping.min_delta=-0.1", "callbacks.early_stopping.min_delta: expected 0 or more"),
        ("callbacks.early_stopping.patience=1.5", "callbacks.early_stopping.patience: expected an integer, got 1.5"),
        ("callbacks.ema.decay=1.0", "callbacks.ema.decay: expected in (0, 1), got 1.0"),
        ("callbacks.ema.decay=.nan", "callbacks.ema.decay: expected in (0, 1), got nan"),
        ("callbacks.ema.start_step=-1", "callbacks.ema.start_step: expected 0 or more, got -1"),
    ],
)
def test_callback_options_outside_their_range_are_refused(capsys, tmp_path, override, expected):
    for message in refused(capsys, tmp_path, override):
        assert f"command line: {expected}" in message, message


def test_callback_options_at_their_bounds_pass(capsys):
    early = ["callbacks.early_stopping.patience=0", "callbacks.early_stopping.min_delta=-0.0"]
    code, _, err = cli(
        capsys, "validate", "quickstart", *early, "callbacks.ema.decay=0.5", "callbacks.ema.start_step=0"
    )
    assert code == 0, err


# -- Lightning's fraction-or-count keys: a fraction in [0, 1] or a whole number of batches, never NaN or inf --------
@pytest.mark.parametrize(
    "key",
    ["limit_train_batches", "limit_val_batches", "limit_test_batches", "overfit_batches", "val_check_interval"],
)
@pytest.mark.parametrize("value", [".nan", ".inf", "-1", "1.5"])
def test_lightning_fractions_of_batches_are_finite(capsys, tmp_path, key, value):
    for message in refused(capsys, tmp_path, f"trainer.{key}={value}", train=key == "limit_train_batches"):
        fraction = "(0, 1]" if key in ("limit_train_batches", "val_check_interval") else "[0, 1]"
        assert f"command line: trainer.{key}: expected a fraction in {fraction} or a whole number of batches" in message


def test_lightning_fractions_and_counts_pass(capsys):
    keys = ["trainer.limit_train_batches=0.5", "trainer.limit_val_batches=3", "trainer.overfit_batches=0"]
    code, _, err = cli(capsys, "validate", "quickstart", *keys, "trainer.val_check_interval=2.0")
    assert code == 0, err


# -- other numbers the built-in tasks take: a NaN or infinity, or a negative size, is refused at its key too ----------
@pytest.mark.parametrize(
    ("recipe", "override", "expected"),
    [
        (
            "translation/gru_reverse",
            "task.coverage_weight=.nan",
            "task.coverage_weight: expected a finite number, 0 or more, got nan",
        ),
        (
            "translation/gru_reverse",
            "task.coverage_weight=.inf",
            "task.coverage_weight: expected a finite number, 0 or more, got inf",
        ),
        (
            "translation/gru_reverse",
            "task.length_penalty=.nan",
            "task.length_penalty: expected a finite number, 0 or more, got nan",
        ),
        (
            "translation/gru_reverse",
            "task.max_length_a=.nan",
            "task.max_length_a: expected a finite number, 0 or more, got nan",
        ),
        ("quickstart", "model.ngram_rate=.nan", "model.ngram_rate: expected a finite number, above 0, got nan"),
        ("quickstart", "model.nbsvm_l2=.inf", "model.nbsvm_l2: expected a finite number, above 0, got inf"),
        ("tagging/gru_toy", "model.casing_dim=-1", "model.casing_dim: expected in [0, 65,536], got -1"),
    ],
)
def test_task_numbers_are_finite_and_in_range(capsys, tmp_path, recipe, override, expected):
    extra = ["model.ngrams=2"] if recipe == "quickstart" else []
    (message,) = refused(capsys, tmp_path, override, *extra, recipe=recipe, train=False)
    assert f"command line: {expected}" in message, message


@pytest.mark.parametrize("run_dir", ["runs/a\noverwrite: true #", "runs/a\rb", "runs/\ta"])
def test_a_run_dir_with_control_characters_is_refused(capsys, tmp_path, run_dir):
    """A newline would end the comment recipe.yaml starts with, and what follows would read back as recipe keys."""
    for message in refused(capsys, tmp_path, f"run_dir={json.dumps(run_dir)}"):  # validate and train
        assert "run_dir: expected a path without control characters" in message, message


@pytest.mark.parametrize(
    "override",
    [
        "trainer.val_check_interval=0",
        "trainer.limit_train_batches=0",
        "trainer.limit_train_batches=0.0",
        "trainer.devices=100000",
        "trainer.devices='5000'",
    ],
)
def test_settings_that_would_train_nothing_or_fork_thousands_are_refused(capsys, tmp_path, override):
    """val_check_interval=0 divided by zero, limit_train_batches=0 ended in StopIteration: internal errors."""
    for message in refused(capsys, tmp_path, override):
        assert f"command line: {override.partition('=')[0]}: expected " in message, message
