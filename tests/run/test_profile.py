"""``seqkit train --profile``: where a run's time goes, written into the run directory and printed."""

from __future__ import annotations

import json
import re

import pytest

from seqkit.profile import breakdown, folded, render
from tests.helpers import ROOT
from tests.recipe_helpers import TINY, cli


def test_a_profiled_run_writes_a_breakdown_that_adds_up(capsys, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", ROOT / "recipes/quickstart.yaml", f"run_dir={run}", *TINY, "--profile")
    assert code == 0, err
    assert "seqkit train: profile: " in err and "recurrent layers" in err and "around the model" in err
    result = json.loads((run / "profile.json").read_text())
    s = result["seconds"]
    steps = int(re.search(r"epoch 1/1: (\d+) steps", err).group(1))
    assert result["steps"] == steps
    parts = ("data", "forward", "backward", "optimizer", "hooks", "Lightning loop and logging")
    assert sum(s[p] for p in parts) == pytest.approx(s["training steps"], rel=1e-6)
    assert 0 < s["forward: recurrent layers"] <= s["forward"]
    assert s["forward"] > 0 and s["backward"] > 0 and s["optimizer"] > 0
    assert s["training steps"] + s["validation"] <= s["whole fit"]
    stacks = dict(line.rsplit(" ", 1) for line in (run / "profile.folded").read_text().splitlines())
    assert int(stacks["fit;training steps;forward;recurrent layers"]) == round(s["forward: recurrent layers"] * 1e6)
    assert (run / "profile.txt").read_text().strip() in err
    assert (run / "fit-lightning-profile.txt").is_file()


def test_an_unprofiled_run_writes_none_of_it(capsys, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", ROOT / "recipes/quickstart.yaml", f"run_dir={run}", *TINY)
    assert code == 0, err
    assert "seqkit train: profile:" not in err
    assert not list(run.glob("*profile*"))


@pytest.mark.parametrize(
    "override,message",
    [
        ("profile=3", "profile: expected"),
        ("trainer.profiler=simple", "profile: trainer.profiler is set too"),
    ],
)
def test_profile_settings_that_cannot_work_are_refused(capsys, tmp_path, override, message):
    args = ["validate", ROOT / "recipes/quickstart.yaml", "profile=true", override]
    if override.startswith("profile="):
        args.remove("profile=true")
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert message in err


def test_lightnings_actions_fall_into_the_steps_categories():
    durations = {
        "[_TrainingEpochLoop].train_dataloader_next": [0.1],
        "[Strategy]SingleDeviceStrategy.batch_to_device": [0.05],
        "[Strategy]SingleDeviceStrategy.training_step": [1.0],
        "[Strategy]SingleDeviceStrategy.backward": [2.0],
        "[Callback]RunReport.on_after_backward": [0.2],  # inside the optimizer's closure
        "[LightningModule]SeqkitModule.optimizer_step": [3.7],  # closure 3.2 + 0.5 of its own
        "[LightningModule]SeqkitModule.lr_scheduler_step": [0.1],
        "[Callback]X.on_train_batch_end": [0.3],
        "[Strategy]SingleDeviceStrategy.validation_step": [9.0],  # validation: not a training step's
        "[Callback]X.on_validation_end": [9.0],
    }
    result = breakdown(durations, whole=20.0, training=8.0, validation=10.0, recurrent=0.4, steps=4)
    s = result["seconds"]
    assert s["data"] == pytest.approx(0.15)
    assert s["forward"] == 1.0 and s["backward"] == 2.0
    assert s["optimizer"] == pytest.approx(0.6)
    assert s["hooks"] == pytest.approx(0.5)
    assert s["Lightning loop and logging"] == pytest.approx(8.0 - 0.15 - 1.0 - 2.0 - 0.6 - 0.5)
    assert s["forward: recurrent layers"] == 0.4 and s["forward: rest"] == pytest.approx(0.6)
    assert s["start, epoch ends and checkpoints"] == pytest.approx(2.0)
    assert result["around_the_model_fraction"] == pytest.approx((0.15 + 0.5 + 3.75) / 8.0)
    assert "4 training steps in 8.00 s (2000.0 ms a step)" in render(result)
    assert "fit;training steps;backward 2000000" in folded(result)
