"""Safe loading (checkpoints and recipes run no code; checkpoints stay in run_dir) and non-finite losses."""

from __future__ import annotations

import os

import pytest
import torch

from seqkit.checkpoint_io import AtomicCheckpointIO
from seqkit.errors import SeqkitError
from tests.recipe_helpers import TINY, cli, write


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_crafted_to_run_code_is_refused(capsys, tmp_path):
    marker = tmp_path / "PWNED"
    crafted = tmp_path / "crafted.ckpt"
    torch.save({"seqkit": {"recipe": Payload(marker)}, "state_dict": {}}, crafted)
    torch.load(crafted, weights_only=False)  # the payload is real: an unsafe load runs it
    assert marker.exists()
    marker.unlink()
    for command in (["eval", crafted], ["predict", crafted, "some text"], ["train", "quickstart", f"resume={crafted}"]):
        code, _, err = cli(capsys, *command)
        assert code == 2 and "not a readable seqkit checkpoint" in err and "Traceback" not in err, err
        assert not marker.exists()


def test_recipes_cannot_run_code_or_call_resolvers(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    tagged = write(tmp_path / "tagged.yaml", f"seed: !!python/object/apply:os.system ['touch {marker}']\n")
    code, _, err = cli(capsys, "validate", tagged)
    assert code == 2 and "tagged.yaml:1" in err and "not valid YAML" in err and not marker.exists()
    monkeypatch.setenv("SECRET", "hunter2")
    code, _, err = cli(capsys, "validate", "quickstart", "run_dir=${oc.env:SECRET}")
    assert code == 2 and "run_dir" in err and "calls a resolver" in err and "hunter2" not in err
    code, _, err = cli(capsys, "validate", "quickstart", "data.size=${oc.decode:'4'}")
    assert code == 2 and "data.size" in err and "calls a resolver" in err
    # a resolver whose name is itself an interpolation is still a resolver call
    code, _, err = cli(capsys, "validate", "quickstart", "run_dir=oc.env", "monitor=val/${${run_dir}:SECRET,loss}")
    assert code == 2 and "monitor" in err and "calls a resolver" in err and "hunter2" not in err
    code, _, err = cli(capsys, "validate", "quickstart", "model.embed_dim=${model.cell.hidden_size}")
    assert code == 0, err  # plain interpolation of another key stays


def test_checkpoints_are_never_written_outside_the_run_directory(tmp_path):
    io = AtomicCheckpointIO(root=tmp_path / "run")
    io.save_checkpoint({"a": 1}, tmp_path / "run" / "last.ckpt")
    assert torch.load(tmp_path / "run" / "last.ckpt", weights_only=True) == {"a": 1}
    for escape in (tmp_path / "run" / ".." / "elsewhere.ckpt", tmp_path / "other" / "x.ckpt"):
        with pytest.raises(SeqkitError, match="outside the run directory"):
            io.save_checkpoint({"a": 1}, escape)
    assert not (tmp_path / "elsewhere.ckpt").exists() and not (tmp_path / "other").exists()


def _nan_at(monkeypatch, step, snapshots=None):
    from seqkit.module import SeqkitModule

    original = SeqkitModule.training_step

    def poisoned(self, batch, batch_idx):
        if snapshots is not None and self.global_step in (step, step + 1):
            snapshots.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})
        if self.global_step == step:
            forward = self.task.forward_loss
            self.task.forward_loss = lambda model, b: (torch.tensor(float("nan")), None)
            try:
                return original(self, batch, batch_idx)
            finally:
                self.task.forward_loss = forward
        return original(self, batch, batch_idx)

    monkeypatch.setattr(SeqkitModule, "training_step", poisoned)


def test_a_nonfinite_loss_stops_with_step_and_batch_and_keeps_the_last_good_checkpoint(capsys, tmp_path, monkeypatch):
    _nan_at(monkeypatch, 15)  # epoch 1 (12 batches an epoch), batch 3
    args = [*TINY, "trainer.max_epochs=2", "callbacks.early_stopping=null", "checkpoint_every_n_steps=0"]
    code, _, err = cli(capsys, "train", "quickstart", *args, f"run_dir={tmp_path}")
    assert code == 3 and "Traceback" not in err, err
    assert "training loss is nan at step 15 (epoch 1, batch 3)" in err and "on_nonfinite=skip_batch" in err
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["global_step"] == 12 and all(torch.isfinite(v).all() for v in last["state_dict"].values())
    assert not (tmp_path / "metrics.json").exists()


def test_skip_batch_skips_the_nonfinite_batch(capsys, tmp_path, monkeypatch, caplog):
    snapshots = []
    _nan_at(monkeypatch, 5, snapshots)
    args = [*TINY, "callbacks.early_stopping=null", "on_nonfinite=skip_batch", f"run_dir={tmp_path}"]
    code, _, err = cli(capsys, "train", "quickstart", *args)
    assert code == 0, err
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values())
    # Lightning still counts the step, but with no gradients the optimizer leaves every weight as it was.
    assert last["global_step"] == 12
    before, after = snapshots
    assert all(torch.equal(before[k], after[k]) for k in before)  # the skipped batch changed nothing
    assert "non-finite training loss (nan) at step 5 (epoch 0, batch 5): batch skipped" in caplog.text


def test_trainer_deterministic_does_not_leak_into_later_runs(capsys, tmp_path):
    assert not torch.are_deterministic_algorithms_enabled()
    workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    code, _, err = cli(
        capsys, "train", "quickstart", *TINY, "data.size=80", "trainer.deterministic=true", f"run_dir={tmp_path}"
    )
    assert code == 0, err
    assert not torch.are_deterministic_algorithms_enabled()
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == workspace  # Lightning sets it for deterministic runs
