"""The ``ema`` callback: a weight average that is validated, checkpointed and tested, and resumes exactly."""

from __future__ import annotations

import pytest
import torch
from seqkit_callbacks.ema import WeightAverage, ema
from torch import nn

from tests.recipe_helpers import TINY, cli


class _Trainer:
    global_step = 0


def test_the_average_follows_the_weights_and_stands_in_only_for_validation():
    module = nn.Linear(3, 2)
    average, trainer = WeightAverage(decay=0.5), _Trainer()
    seen = []
    for step in range(4):
        average.on_train_batch_start(trainer, module, None, step)
        with torch.no_grad():
            module.weight.add_(1.0)
        seen.append(module.weight.detach().clone())
        average.on_train_batch_end(trainer, module, None, None, step)
    expected = seen[0]  # the first update copies; then min(0.5, (1 + n) / (10 + n)) = 0.5 per step (n = 1..3)
    for weights, decay in zip(seen[1:], (2 / 11, 3 / 12, 4 / 13)):
        expected = decay * expected + (1 - decay) * weights
    raw = module.weight.detach().clone()
    average.on_validation_start(trainer, module)
    assert torch.allclose(module.weight, expected)
    average.on_validation_start(trainer, module)  # a second validation keeps the raw weights, not the average
    average.on_train_batch_start(trainer, module, None, 4)
    assert torch.equal(module.weight, raw)


def test_options_are_checked():
    with pytest.raises(ValueError, match="decay"):
        ema(decay=1.0)
    with pytest.raises(ValueError, match="start_step"):
        ema(start_step=-1)


def _checkpoint(path):
    return torch.load(path, weights_only=False)


def test_checkpoints_hold_the_average_and_resume_trains_on_from_the_raw_weights(capsys, tmp_path):
    common = [*TINY, "callbacks.ema.decay=0.9", "optim.schedule=constant", "callbacks.early_stopping=null"]
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'a'}")[0] == 0
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=1", f"run_dir={tmp_path / 'b'}")[0] == 0
    saved = _checkpoint(tmp_path / "b" / "last.ckpt")
    state = next(v for k, v in saved["callbacks"].items() if "WeightAverage" in k)
    weights = [v for k, v in saved["state_dict"].items() if v.dtype.is_floating_point]
    assert all(torch.equal(w, s) for w, s in zip(weights, state["shadow"]))  # the checkpoint's model is the average
    assert any(not torch.equal(w, b) for w, b in zip(weights, state["backup"]))  # ...and the raw weights differ
    code, _, err = cli(
        capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'b'}", "resume=last"
    )
    assert code == 0, err
    whole, resumed = _checkpoint(tmp_path / "a" / "last.ckpt"), _checkpoint(tmp_path / "b" / "last.ckpt")
    for key, value in whole["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda s: {**s, "backup": [torch.tensor(7.0)] * len(s["backup"])}, "the saved backup[0] is torch.float32 ()"),
        (lambda s: {**s, "shadow": [t.to(torch.int8) for t in s["shadow"]]}, "is not a dense floating-point tensor"),
        (lambda s: {**s, "shadow": [t * float("nan") for t in s["shadow"]]}, "holds NaN or infinite values"),
        (lambda s: {**s, "shadow": s["shadow"][:-1]}, "tensors, the model"),
        (lambda s: {**s, "updates": -3}, "expected a count of updates of 0 or more"),
        (lambda s: {**s, "backup": "junk"}, "expected the saved backup as a list of tensors"),
    ],
    ids=["scalar", "int8", "nan", "short", "updates", "junk"],
)
def test_a_damaged_average_in_a_checkpoint_is_refused_on_resume(capsys, tmp_path, damage, needle):
    """Its tensors are copied into the weights: before, a scalar was broadcast into every weight, int8 cast silently
    and NaN blamed on the learning rate."""
    common = [*TINY, "callbacks.ema.decay=0.9", f"run_dir={tmp_path / 'run'}"]
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=1")[0] == 0
    path = tmp_path / "run" / "last.ckpt"
    saved = _checkpoint(path)
    key = next(k for k in saved["callbacks"] if "WeightAverage" in k)
    saved["callbacks"][key] = damage(saved["callbacks"][key])
    torch.save(saved, path)
    code, _, err = cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=2", "resume=last")
    last = err.strip().splitlines()[-1]  # after the run's header: the model is known once the run starts
    assert code == 2 and last.startswith("seqkit train: error: resume: "), err
    assert "the checkpoint's ema state is damaged or was tampered with" in last and needle in last, err
