"""A checkpoint's weights are each a dense tensor of its parameter's dtype and shape, or one line naming the weight:
torch would cast int8, bool or float64 values silently and complex ones with a warning. A ``-true`` precision run
keeps its weights in that dtype, and its checkpoints load (see docs/security.md; the CLI cases are in
test_bad_input_corpus.py)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from seqkit.run.weights import trained_dtype, weights_problem
from tests.recipe_helpers import TINY, cli


def _model() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))  # its buffers include an int64 counter
    return model


@pytest.mark.parametrize(
    ("dtype", "needle"),
    [
        (torch.int8, "expected float32 (3, 4), got int8 (3, 4)"),
        (torch.complex64, "expected float32 (3, 4), got complex64 (3, 4)"),
        (torch.float64, "expected float32 (3, 4), got float64 (3, 4)"),
        (torch.bool, "expected float32 (3, 4), got bool (3, 4)"),
    ],
)
def test_a_weight_of_another_dtype_is_named_not_cast(dtype, needle):
    state = _model().state_dict()
    state["0.weight"] = state["0.weight"].to(dtype)
    assert weights_problem(_model(), state) == f"weight 0.weight: {needle}"


def test_buffers_keep_their_own_dtype_and_junk_is_named():
    state = _model().state_dict()
    assert weights_problem(_model(), state) is None
    state["1.num_batches_tracked"] = torch.tensor(0.0)  # a float where the model counts in int64
    assert weights_problem(_model(), state) == "weight 1.num_batches_tracked: expected int64 (), got float32 ()"
    state = {**_model().state_dict(), "0.bias": "0.1"}
    assert weights_problem(_model(), state) == "weight 0.bias: expected float32 (3,), got a str"
    state = {**_model().state_dict(), "0.bias": torch.zeros(5)}
    assert weights_problem(_model(), state).endswith("got float32 (5,); did an override change its size?")


def test_a_true_precision_checkpoints_dtype_is_accepted_and_no_other():
    assert trained_dtype({"trainer": {"precision": "bf16-true"}}) == torch.bfloat16
    assert trained_dtype({"trainer": {"precision": 64}}) == torch.float64  # Lightning's older name
    assert trained_dtype({"trainer": {"precision": "bf16-mixed"}}) is None  # mixed: weights stay float32
    assert trained_dtype({"trainer": ["x"]}) is None and trained_dtype("junk") is None
    state = _model().to(torch.bfloat16).state_dict()
    assert weights_problem(_model(), state, torch.bfloat16) is None
    assert "1.num_batches_tracked" not in (weights_problem(_model(), state, torch.bfloat16) or "")
    state["0.weight"] = state["0.weight"].half()
    assert weights_problem(_model(), state, torch.bfloat16) == (
        "weight 0.weight: expected float32 or bfloat16 (3, 4), got float16 (3, 4)"
    )


def test_a_bf16_true_run_evaluates_and_a_cast_is_never_silent(tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "quickstart", *TINY, "trainer.precision=bf16-true", f"run_dir={run}")
    assert code == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # torch's "Casting complex values to real" is not an answer
        code, out, err = cli(capsys, "eval", run / "best.ckpt", "--json")
        assert code == 0 and "test/accuracy" in out, err
        saved = torch.load(run / "best.ckpt", weights_only=True)
        name = "model.encoder.weight_hh_l0"
        saved["state_dict"][name] = saved["state_dict"][name].to(torch.complex64)
        torch.save(saved, tmp_path / "complex.ckpt")
        code, out, err = cli(capsys, "predict", tmp_path / "complex.ckpt", "a fine film")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"complex.ckpt: the weights do not fit the model the recipe builds: weight {name}: expected " in err
    assert "got complex64" in err


def test_a_nested_tensor_is_named_not_an_internal_error():
    state = _model().state_dict()
    state["0.bias"] = torch.nested.nested_tensor([torch.zeros(1)] * 3, layout=torch.strided)
    assert weights_problem(_model(), state) == "weight 0.bias: expected float32 (3,), got a nested tensor"


def test_a_float64_weight_too_large_for_float32_is_refused_as_loaded(tmp_path, capsys):
    """A ``64-true`` recipe (the checkpoint's own, so anyone's) lets float64 weights in: one of 1e300 is finite
    there, and infinite once loaded into the float32 model eval and predict build."""
    run = tmp_path / "run"
    assert cli(capsys, "train", "quickstart", *TINY, f"run_dir={run}")[0] == 0
    saved = torch.load(run / "best.ckpt", weights_only=True)
    saved["seqkit"]["recipe"].setdefault("trainer", {})["precision"] = "64-true"
    saved["state_dict"] = {k: v.double() if v.is_floating_point() else v for k, v in saved["state_dict"].items()}
    name = next(k for k, v in saved["state_dict"].items() if v.is_floating_point())
    saved["state_dict"][name][...] = 1e300
    torch.save(saved, tmp_path / "huge.ckpt")
    code, out, err = cli(capsys, "predict", tmp_path / "huge.ckpt", "a fine film")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"weight {name} holds NaN or infinite values" in err
