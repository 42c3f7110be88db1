"""Lightning's warnings about a run's settings: their cause prevented, or said as one seqkit note."""

from __future__ import annotations

import csv
import warnings

import pytest

from seqkit.cli import main
from seqkit.trainer_notes import log_interval, log_interval_options, modern_precision
from seqkit.typecheck import describe
from tests.recipe_helpers import TINY


def test_an_epoch_shorter_than_the_log_interval_still_logs_its_training_loss(tmp_path, capsys):
    # 80 records: 64 to train on, 4 batches of 16; Lightning's default interval (10 steps) would log nothing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "quickstart", *TINY, "data.size=80", f"run_dir={tmp_path}"]) == 0
    assert not [w for w in caught if "logging interval" in str(w.message)]
    with open(tmp_path / "logs" / "csv" / "metrics.csv") as rows:
        logged = [row for row in csv.DictReader(rows) if row.get("train/loss")]
    assert [int(row["step"]) for row in logged] == [3]  # the epoch's last step: once per 4 batches
    assert "note" not in capsys.readouterr().err


def test_an_interval_the_recipe_sets_longer_than_an_epoch_is_one_note():
    options, notes = log_interval_options({"log_every_n_steps": 50}, 4)
    assert notes == [
        "trainer.log_every_n_steps=50 is more than the 4 training batches of an epoch: per-step values are logged "
        "every 50 steps, across epochs"
    ]
    assert options == {}  # the recipe's choice stands


@pytest.mark.parametrize(
    ("section", "batches", "expected"),
    [
        ({}, 4, (4, None)),
        ({}, 400, (10, None)),
        ({"limit_train_batches": 2}, 400, (2, None)),
        ({"limit_train_batches": 0.5}, 8, (4, None)),
        ({"log_every_n_steps": 3}, 400, (None, None)),
        ({}, 0, (None, None)),
    ],
)
def test_the_default_interval_is_at_most_one_epoch(section, batches, expected):
    assert log_interval(section, batches) == expected


@pytest.mark.parametrize(
    ("given", "modern"),
    [(16, "16-mixed"), ("16", "16-mixed"), ("bf16", "bf16-mixed"), (32, "32-true"), ("64", "64-true"), (None, None)],
)
def test_lightning_s_older_precision_names_become_the_current_ones(given, modern):
    assert modern_precision(given) == modern


def test_a_run_asking_for_float16_on_the_cpu_says_so_in_one_note(tmp_path, capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        extra = ["trainer.precision=16", "trainer.gradient_clip_val=null"]  # fused AdamW refuses clipping under AMP
        code = main(["train", "quickstart", *TINY, "data.size=40", *extra, f"run_dir={tmp_path}"])
    assert code == 0
    assert not [w for w in caught if "historical reasons" in str(w.message) or "AMP" in str(w.message)]
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "note:" in line]
    assert notes == [
        "seqkit train: note: trainer.precision=16: float16 mixed precision does not run on the CPU; training in "
        "bf16-mixed (set trainer.precision=bf16-mixed to say so)"
    ]
    assert "Automatic Mixed Precision" not in err and "precision bf16-mixed" in err


def test_a_precision_nobody_has_is_one_list_of_choices(capsys):
    assert main(["validate", "quickstart", "trainer.precision=17"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.count("one of") == 1
    assert "'16-mixed'" in err and "'bf16-mixed'" in err and "'64', '32'" not in err
    assert err.endswith("or null, got 17\n")


def test_literal_groups_read_as_one_list():
    from typing import Literal

    assert describe(Literal[1, 2] | Literal["1", "x"] | None) == "one of 1, 2, 'x' or null"
