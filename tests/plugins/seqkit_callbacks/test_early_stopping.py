"""``early_stopping``: Lightning's EarlyStopping, refusing a run that never validates at its start."""

from __future__ import annotations

import pickle

import torch

from tests.recipe_helpers import TINY, cli


def test_a_run_that_never_validates_is_refused_at_its_start(capsys, tmp_path):
    """Lightning's own error came after the first epoch, as an internal error."""
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "quickstart", *TINY, "trainer.limit_val_batches=0", f"run_dir={run}")
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("seqkit train: error: callbacks.early_stopping watches val/"), err
    assert "trainer.limit_val_batches=0 turns validation off" in last and "epoch 1/" not in err
    without = ["trainer.limit_val_batches=0", "callbacks.early_stopping=null", f"run_dir={tmp_path / 'without'}"]
    code, _, err = cli(capsys, "train", "quickstart", *TINY, *without)
    assert code == 0, err


def test_its_saved_state_keeps_lightnings_key(capsys, tmp_path):
    """Checkpoints from before (and Lightning's resume) find the state under ``EarlyStopping{...}``."""
    run = tmp_path / "run"
    assert cli(capsys, "train", "quickstart", *TINY, f"run_dir={run}")[0] == 0
    keys = list(torch.load(run / "last.ckpt", weights_only=True)["callbacks"])
    assert any(key.startswith("EarlyStopping{'monitor': 'val/") for key in keys), keys


def test_it_pickles_as_a_ddp_spawn_run_needs():
    from seqkit_callbacks.early_stopping import early_stopping

    made = pickle.loads(pickle.dumps(early_stopping(monitor="val/loss", mode="min", patience=2)))
    assert made.monitor == "val/loss" and made.patience == 2
