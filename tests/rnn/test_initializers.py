"""Initialisers and L2 penalties for any cell: what each scheme puts in the weights, and what training adds."""

from __future__ import annotations

import math

import pytest
import torch

import seqkit
from seqkit.errors import InvalidArgumentError
from tests.recipe_helpers import TINY, cli

H, I = 6, 5


def layer(kind: str = "gru", **options):
    torch.manual_seed(0)
    return seqkit.create_rnn(kind, I, H, num_layers=2, bidirectional=True, backend="reference", **options)


def matrices(rnn, prefix: str):
    return [p for name, p in rnn.named_parameters() if name.startswith(prefix)]


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn"])
def test_orthogonal_recurrent_blocks_and_zero_biases(kind):
    rnn = layer(kind, recurrent_init="orthogonal", bias_init="zeros")
    for weight in matrices(rnn, "weight_hh"):
        assert weight.shape[0] % H == 0
        for block in weight.split(H):
            torch.testing.assert_close(block.T @ block, torch.eye(H), atol=1e-5, rtol=0)
    assert all(bias.abs().sum() == 0 for bias in matrices(rnn, "bias"))
    assert all(w.abs().max() <= 1 / math.sqrt(H) for w in matrices(rnn, "weight_ih"))  # kernel: torch's default


def test_xavier_uniform_bounds_and_the_keras_preset():
    rnn = layer("gru", init="keras")
    for weight in matrices(rnn, "weight_ih"):
        rows, columns = weight.shape
        bound = math.sqrt(6 / (rows + columns))
        assert weight.abs().max() <= bound and weight.abs().max() > 0.8 * bound
    for weight in matrices(rnn, "weight_hh"):
        for block in weight.split(H):
            torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)
    assert all(bias.abs().sum() == 0 for bias in matrices(rnn, "bias"))
    # an explicit choice wins over the preset
    assert all(w.abs().sum() == 0 for w in matrices(layer("gru", init="keras", kernel_init="zeros"), "weight_ih"))


def test_torch_default_keeps_the_weights_the_cell_draws():
    plain, explicit = layer("gru"), layer("gru", kernel_init="torch", recurrent_init="torch", bias_init="torch")
    for (name, a), (_, b) in zip(plain.named_parameters(), explicit.named_parameters()):
        assert torch.equal(a, b), name


def test_forget_bias_opens_the_lstm_forget_gate():
    rnn = layer("lstm", forget_bias=1.0)
    for suffix in ("_l0", "_l1", "_l0_reverse", "_l1_reverse"):
        total = getattr(rnn, f"bias_ih{suffix}") + getattr(rnn, f"bias_hh{suffix}")
        assert torch.equal(total[H : 2 * H], torch.ones(H))
        assert not torch.equal(total[:H], torch.ones(H))  # the other gates keep their draw
    # reset_parameters applies the same scheme again
    with torch.no_grad():
        rnn.bias_ih_l0.zero_()
    rnn.reset_parameters()
    assert torch.equal((rnn.bias_ih_l0 + rnn.bias_hh_l0)[H : 2 * H], torch.ones(H))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kernel_init": "orthogonl"}, "kernel_init must be one of .* did you mean 'orthogonal'"),
        ({"bias_init": "orthogonal"}, "biases are vectors"),
        ({"init": "pytorch"}, "init must be one of keras"),
        ({"forget_bias": 1.0}, "forget_bias applies to cells with LSTM gates .*, not 'gru'"),
        ({"kernel_l2": -0.1}, "kernel_l2 must be a number 0 or more"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(InvalidArgumentError, match=message):
        layer("gru", **options)


def test_forget_bias_without_biases_is_an_error():
    with pytest.raises(InvalidArgumentError, match="bias=false"):
        layer("lstm", forget_bias=1.0, bias=False)


def test_the_l2_penalty_is_lambda_times_the_squared_norms():
    rnn = layer("lstm", kernel_l2=0.01, recurrent_l2=0.1)
    expected = 0.01 * sum(w.pow(2).sum() for w in matrices(rnn, "weight_ih")) + 0.1 * sum(
        w.pow(2).sum() for w in matrices(rnn, "weight_hh")
    )
    torch.testing.assert_close(rnn.penalty(), expected)
    assert layer("lstm").penalty() is None
    # its gradient is 2λW on exactly those matrices
    rnn.penalty().backward()
    torch.testing.assert_close(rnn.weight_hh_l1_reverse.grad, 0.2 * rnn.weight_hh_l1_reverse.detach())
    assert rnn.bias_ih_l0.grad is None


def test_recipes_set_initialisers_and_the_penalty_reaches_the_training_loss(tmp_path, capsys):
    options = ["model.cell.kind=lstm", "model.cell.init=keras", "model.cell.forget_bias=1.0"]
    code, _, err = cli(capsys, "train", "quickstart", *TINY, *options, "model.cell.recurrent_l2=0.5",
                       f"run_dir={tmp_path / 'a'}")  # fmt: skip
    assert code == 0, err
    log = (tmp_path / "a" / "logs" / "csv" / "metrics.csv").read_text()
    assert "train/l2_penalty" in log
    state = torch.load(tmp_path / "a" / "last.ckpt", weights_only=True)["state_dict"]
    assert any(name.endswith("bias_hh_l0") for name in state)
    code, _, err = cli(capsys, "validate", "quickstart", "model.cell.forget_bias=1.0")
    assert code == 2 and "model.cell.forget_bias" in err and "lstm" in err
