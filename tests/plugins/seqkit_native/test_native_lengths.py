"""The native kernel's variable-length strategies: frozen LSTM cell state, and packing where that is not exact."""

from __future__ import annotations

import pytest
import torch
from seqkit_native import frozen_lstm

import seqkit
from seqkit.testing.common import as_tuple, weighted_loss


def _pair(scale, bidirectional):
    torch.manual_seed(0)
    fast = seqkit.create_rnn("lstm", 3, 5, bidirectional=bidirectional, backend="native").double()
    with torch.no_grad():
        for p in fast.parameters():
            p.mul_(scale)
    slow = seqkit.create_rnn("lstm", 3, 5, bidirectional=bidirectional, backend="reference").double()
    slow.load_state_dict(fast.state_dict())
    return fast, slow


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("scale,frozen", [(1.0, True), (5e3, False)], ids=["frozen", "packed_fallback"])
def test_lstm_lengths_match_the_step_loop_on_either_path(monkeypatch, scale, frozen, bidirectional):
    fast, slow = _pair(scale, bidirectional)
    used = []
    original = frozen_lstm.run_frozen
    monkeypatch.setattr(frozen_lstm, "run_frozen", lambda *a: used.append(True) or original(*a))
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 1, 0, 4])
    h0 = tuple(torch.randn(fast.num_directions, 4, 5, dtype=torch.float64) for _ in range(2))
    results = []
    for layer in (fast, slow):
        out, state = layer(x, lengths, h0)
        results.append(
            (out, *as_tuple(state), *torch.autograd.grad(weighted_loss(out, state), list(layer.parameters())))
        )
    assert bool(used) == frozen
    assert frozen_lstm.can_freeze(fast.cell, [fast.weights(0, d) for d in range(fast.num_directions)]) == frozen
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-9 * scale, rtol=1e-9)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind,options", [("gru", {}), ("lstm", {}), ("rnn", {"nonlinearity": "relu"})])
def test_the_packed_path_cuda_takes_matches_the_step_loop(kind, options, bidirectional):
    from seqkit_native.fused import runner

    from seqkit.lengths import zero_past_end
    from seqkit.reference import run_reference

    torch.manual_seed(0)
    layer = seqkit.create_rnn(kind, 3, 5, bidirectional=bidirectional, **options).double()
    weights = [layer.weights(0, d) for d in range(layer.num_directions)]
    lengths = torch.tensor([6, 1, 0, 4])
    x = zero_past_end(torch.randn(4, 6, 3, dtype=torch.float64), lengths)
    state = tuple(torch.randn(layer.num_directions, 4, 5, dtype=torch.float64) for _ in layer.cell.state_names)
    results = []
    for run in (runner(kind, always_pack=True), run_reference):
        out, final = run(layer.cell, weights, x, lengths, state)
        results.append((out, *final, *torch.autograd.grad(weighted_loss(out, final), list(layer.parameters()))))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_an_empty_sequence_keeps_an_initial_state_outside_the_bound():
    fast, slow = _pair(1.0, False)
    with torch.no_grad():
        fast.weight_hh_l0.fill_(1600.0)  # row sums 8000: inside the bound, which assumes |h| < 1
    slow.load_state_dict(fast.state_dict())
    assert frozen_lstm.can_freeze(fast.cell, [fast.weights(0, 0)])
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([0, 5])
    state = (torch.full((1, 2, 5), 3.0, dtype=torch.float64), torch.randn(1, 2, 5, dtype=torch.float64))
    for ours, theirs in zip(fast(x, lengths, state)[1], slow(x, lengths, state)[1], strict=True):
        torch.testing.assert_close(ours, theirs)
    assert torch.equal(fast(x, lengths, state)[1][1][:, 0], state[1][:, 0])


def test_weights_just_inside_the_bound_still_freeze_exactly():
    fast, slow = _pair(1.0, True)
    hs = 5
    with torch.no_grad():
        for name in ("weight_hh_l0", "weight_hh_l0_reverse"):
            w = getattr(fast, name)
            w[: 2 * hs] = torch.sign(w[: 2 * hs]) * (frozen_lstm.K - frozen_lstm.MARGIN - 10) / hs
    slow.load_state_dict(fast.state_dict())
    assert frozen_lstm.can_freeze(fast.cell, [fast.weights(0, d) for d in range(2)])
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 4])
    for ours, theirs in zip(as_tuple(fast(x, lengths)[1]), as_tuple(slow(x, lengths)[1]), strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-8, rtol=1e-8)


@pytest.mark.parametrize("dtype,tolerance", [(torch.float16, 1e-2), (torch.bfloat16, 5e-2), (torch.float32, 1e-5)])
def test_frozen_lstm_in_lower_precision_is_close_to_float64(dtype, tolerance):
    fast, slow = _pair(1.0, True)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    lengths = torch.tensor([9, 3, 0, 6])
    expected = slow(x, lengths)
    got = fast.to(dtype)(x.to(dtype), lengths)
    assert fast.backend == "native"
    for ours, theirs in zip((got[0], *got[1]), (expected[0], *expected[1]), strict=True):
        assert ours.dtype == dtype
        torch.testing.assert_close(ours.double(), theirs, atol=tolerance, rtol=tolerance)


def test_a_relu_rnn_cannot_overflow_in_the_padding():
    torch.manual_seed(0)
    fast = seqkit.create_rnn("rnn", 2, 4, nonlinearity="relu", backend="native")
    slow = seqkit.create_rnn("rnn", 2, 4, nonlinearity="relu", backend="reference")
    with torch.no_grad():
        fast.weight_hh_l0.copy_(torch.eye(4) * 3)  # grows 3x a step: overflows float32 within 100 steps
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 100, 2)
    grads = []
    for layer in (fast, slow):
        out, h = layer(x, torch.tensor([3, 2]))
        grads.append(torch.autograd.grad(out.sum() + h.sum(), list(layer.parameters())))
    for ours, theirs in zip(*grads, strict=True):
        assert torch.isfinite(ours).all()
        torch.testing.assert_close(ours, theirs)


def test_native_runs_under_cpu_autocast():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("lstm", 3, 5, backend="native")
    x = torch.randn(2, 6, 3)
    expected, _ = layer(x, torch.tensor([6, 2]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, _ = layer(x.bfloat16(), torch.tensor([6, 2]))
    torch.testing.assert_close(got.float(), expected, atol=5e-2, rtol=5e-2)
