"""The layer-normalised cells ``ln_gru`` and ``ln_lstm`` against the paper's equations, written out here in float64."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.testing import check_cell
from tests.recipe_helpers import TINY, cli

I, H, B, T = 3, 5, 4, 6


def ln(v, gain, bias, eps):
    """Layer normalisation over the last dimension, from its definition (biased variance)."""
    mean = v.sum(-1, keepdim=True) / v.shape[-1]
    var = ((v - mean) ** 2).sum(-1, keepdim=True) / v.shape[-1]
    return gain * (v - mean) / torch.sqrt(var + eps) + bias


def ln_lstm_steps(p, x, h, c, eps=1e-5):
    """Ba et al. (2016), eq. 20-22: one sequence ``(T, I)`` from ``(h, c)``; outputs ``(T, H)`` and the final state."""
    outs = []
    for x_t in x:
        gates = ln(p["weight_ih"] @ x_t, p["ln_ih_weight"], p["ln_ih_bias"], eps) + p["bias_ih"]
        gates = gates + ln(p["weight_hh"] @ h, p["ln_hh_weight"], p["ln_hh_bias"], eps) + p["bias_hh"]
        i, f, g, o = gates[:H], gates[H : 2 * H], gates[2 * H : 3 * H], gates[3 * H :]
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(ln(c, p["ln_c_weight"], p["ln_c_bias"], eps))
        outs.append(h)
    return torch.stack(outs), (h, c)


def ln_gru_steps(p, x, h, eps=1e-5):
    """LN on W_x x and W_h h separately (3H each), reset gate after the normalised recurrent n-part."""
    outs = []
    for x_t in x:
        a = ln(p["weight_ih"] @ x_t, p["ln_ih_weight"], p["ln_ih_bias"], eps) + p["bias_ih"]
        b = ln(p["weight_hh"] @ h, p["ln_hh_weight"], p["ln_hh_bias"], eps) + p["bias_hh"]
        r = torch.sigmoid(a[:H] + b[:H])
        z = torch.sigmoid(a[H : 2 * H] + b[H : 2 * H])
        n = torch.tanh(a[2 * H :] + r * b[2 * H :])
        h = (1 - z) * n + z * h
        outs.append(h)
    return torch.stack(outs), (h,)


def expected(layer, kind, x, lengths, state):
    """The whole stack, one sequence at a time and each only as long as it is: outputs and final state parts."""
    steps = ln_lstm_steps if kind == "ln_lstm" else ln_gru_steps
    directions = layer.num_directions
    out = torch.zeros(B, T, directions * H, dtype=torch.float64)
    finals = [torch.zeros_like(s) for s in state]
    for b in range(B):
        inputs = x[b, : lengths[b]]
        for layer_index in range(layer.num_layers):
            results = []
            for d in range(directions):
                row = layer_index * directions + d
                params = {k: v.detach() for k, v in layer.weights(layer_index, d).items()}
                seq = inputs.flip(0) if d else inputs
                y, final = steps(params, seq, *(s[row, b] for s in state))
                results.append(y.flip(0) if d else y)
                for part, value in zip(finals, final):
                    part[row, b] = value
            inputs = torch.cat(results, -1)
        out[b, : lengths[b]] = inputs
    return out, finals


def _layer(kind, **options):
    torch.manual_seed(0)
    layer = seqkit.create_rnn(kind, I, H, num_layers=2, bidirectional=True, **options).double()
    with torch.no_grad():  # gains and LN biases away from 1 and 0, so the test sees what they do
        for name, p in layer.named_parameters():
            if name.startswith("ln_"):
                p.add_(0.3 * torch.randn_like(p))
    return layer


@pytest.mark.parametrize("kind", ["ln_gru", "ln_lstm"])
def test_matches_the_papers_equations_with_lengths_bidirectional_two_layers(kind):
    layer = _layer(kind)
    torch.manual_seed(1)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = torch.tensor([T, 3, 1, T - 1])
    parts = len(layer.cell.state_names)
    state = tuple(torch.randn(4, B, H, dtype=torch.float64) for _ in range(parts))
    out, final = layer(x, lengths, state if parts > 1 else state[0])
    want_out, want_final = expected(layer, kind, x, lengths, state)
    torch.testing.assert_close(out, want_out, atol=1e-12, rtol=1e-10)
    for got, want in zip((final,) if parts == 1 else final, want_final):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("kind", ["ln_gru", "ln_lstm"])
def test_ln_eps_and_no_bias_reach_the_math(kind):
    layer = _layer(kind, ln_eps=0.5, bias=False)
    assert "bias_ih_l0" not in dict(layer.named_parameters())
    x = torch.randn(1, T, I, dtype=torch.float64)
    steps = ln_lstm_steps if kind == "ln_lstm" else ln_gru_steps
    params = {k: v.detach() for k, v in layer.weights(0, 0).items()}
    params.update(bias_ih=0.0, bias_hh=0.0)
    zeros = [torch.zeros(H, dtype=torch.float64)] * len(layer.cell.state_names)
    want, _ = steps(params, x[0], *zeros, eps=0.5)
    single = seqkit.create_rnn(kind, I, H, ln_eps=0.5, bias=False).double()
    single.load_state_dict({k: v for k, v in layer.state_dict().items() if "_l0" in k and "reverse" not in k})
    torch.testing.assert_close(single(x)[0][0], want, atol=1e-12, rtol=1e-10)


def test_options_are_checked():
    with pytest.raises(seqkit.InvalidArgumentError, match=r"cell 'ln_lstm' option 'ln_eps' must be a number above 0"):
        seqkit.create_rnn("ln_lstm", I, H, ln_eps=0)
    with pytest.raises(seqkit.InvalidArgumentError, match=r"cell 'ln_gru' option 'bias' must be true or false"):
        seqkit.create_rnn("ln_gru", I, H, bias="yes")


def test_gains_start_at_one_and_initialisers_leave_them_alone():
    layer = seqkit.create_rnn("ln_lstm", I, H, init="keras", forget_bias=1.0, bias_init="zeros")
    params = dict(layer.named_parameters())
    assert torch.equal(params["ln_hh_weight_l0"], torch.ones(4 * H))
    assert torch.equal(params["ln_c_bias_l0"], torch.zeros(H))
    assert torch.equal(params["bias_ih_l0"][H : 2 * H], torch.ones(H))  # forget_bias, by torch.nn's layout
    assert torch.equal(params["bias_hh_l0"], torch.zeros(4 * H))
    block = params["weight_hh_l0"][:H].detach()
    torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)  # orthogonal, per gate
    with pytest.raises(seqkit.InvalidArgumentError, match="applies to cells with LSTM gates .*, not 'ln_gru'"):
        seqkit.create_rnn("ln_gru", I, H, forget_bias=1.0)


def test_no_torch_nn_equivalent():
    with pytest.raises(seqkit.InvalidArgumentError, match="torch.nn has no layer equivalent"):
        seqkit.create_rnn("ln_gru", I, H).to_torch()


def test_conformance_with_options():
    assert check_cell("ln_lstm", options={"bias": False, "ln_eps": 1e-3}, finite_differences=False)[-2:] == [
        "training",
        "generic kernel",
    ]


def test_a_recipe_trains_an_ln_gru(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "quickstart", *TINY, "model.cell.kind=ln_gru", f"run_dir={tmp_path / 'r'}")
    assert code == 0, err
    assert "test/accuracy: " in out
