"""Random shapes, lengths and options: the auto-chosen CPU kernel against the step loop and torch.nn, forward
and backward, in float64. Fifty configurations run by default; a thousand more with ``pytest -m slow``."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

import seqkit
from seqkit.testing.common import as_tuple, weighted_loss
from tests.helpers import torch_forward

CELLS = [("gru", {}, nn.GRU), ("lstm", {}, nn.LSTM), ("rnn", {"nonlinearity": "tanh"}, nn.RNN),
         ("rnn", {"nonlinearity": "relu"}, nn.RNN), ("gru", {"reset_after": False}, None)]  # fmt: skip


def _config(rng: random.Random) -> dict:
    kind, options, torch_type = rng.choice(CELLS)
    steps, batch = rng.randint(1, 30), rng.randint(1, 8)
    lengths = [rng.choice([0, 1, steps, rng.randint(0, steps)]) for _ in range(batch)]
    return {
        "kind": kind,
        "options": {**options, "bias": rng.random() < 0.8},
        "torch_type": torch_type,
        "input_size": rng.randint(1, 12),
        "hidden_size": rng.randint(1, 20),
        "num_layers": rng.randint(1, 3),
        "bidirectional": rng.random() < 0.5,
        "x_shape": (batch, steps),
        "lengths": None if rng.random() < 0.2 else lengths,
        "with_state": rng.random() < 0.5,
    }


def _run(layer, x, lengths, state):
    x = x.clone().requires_grad_()
    out, final = layer(x, lengths, state)
    wrt = [x, *layer.parameters()]
    loss = weighted_loss(out, final)
    if not loss.requires_grad:  # every sequence empty: nothing depends on x or the weights
        return [out, *as_tuple(final), *(torch.zeros_like(w) for w in wrt)]
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    return [out, *as_tuple(final), *(torch.zeros_like(w) if g is None else g for w, g in zip(wrt, grads))]


SEEDS = [*range(50), *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(50, 1050))]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_configuration(seed):
    c = _config(random.Random(seed))
    torch.manual_seed(seed)
    shape = dict(num_layers=c["num_layers"], bidirectional=c["bidirectional"])
    reference = seqkit.create_rnn(c["kind"], c["input_size"], c["hidden_size"], backend="reference", **shape,
                                  **c["options"]).double()  # fmt: skip
    x = torch.randn(*c["x_shape"], c["input_size"], dtype=torch.float64)
    state = None
    if c["with_state"]:
        parts = tuple(torch.randn_like(s) for s in as_tuple(reference.init_state(x.shape[0])))
        state = parts[0] if len(parts) == 1 else parts
    lengths = None if c["lengths"] is None else torch.tensor(c["lengths"])
    expected = _run(reference, x, lengths, state)

    layer = seqkit.create_rnn(c["kind"], c["input_size"], c["hidden_size"], **shape, **c["options"]).double()
    layer.load_state_dict(reference.state_dict())
    for a, b in zip(_run(layer, x, lengths, state), expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)

    all_positive = lengths is None or bool((lengths > 0).all())
    if c["torch_type"] is not None and all_positive:
        module = layer.to_torch()
        out, final = torch_forward(module, x, c["lengths"], state)
        torch.testing.assert_close(out, expected[0], atol=1e-9, rtol=1e-9)
        for a, b in zip(as_tuple(final), expected[1:], strict=False):
            torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
