"""The native kernel's variable-length strategies: frozen LSTM cell state, and packing where that is not exact."""

from __future__ import annotations

import pytest
import torch
from seqkit_native import frozen_lstm

import seqkit
from tests.helpers import as_tuple, random_loss


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
        results.append((out, *as_tuple(state), *torch.autograd.grad(random_loss(out, state), list(layer.parameters()))))
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
        results.append((out, *final, *torch.autograd.grad(random_loss(out, final), list(layer.parameters()))))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
