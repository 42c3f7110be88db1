"""Random shapes, lengths and options: the auto-chosen CPU kernel against the step loop and torch.nn, forward
and backward, in float64. Fifty configurations run by default; a thousand more with ``pytest -m slow``."""

from __future__ import annotations

import random

import pytest
import torch

import seqkit
from seqkit.testing.common import as_tuple
from tests.helpers import outputs_and_grads, random_config, torch_forward

SEEDS = [*range(50), *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(50, 1050))]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_configuration(seed):
    c = random_config(random.Random(seed))
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
    expected = outputs_and_grads(reference, x, lengths, state)

    layer = seqkit.create_rnn(c["kind"], c["input_size"], c["hidden_size"], **shape, **c["options"]).double()
    layer.load_state_dict(reference.state_dict())
    for a, b in zip(outputs_and_grads(layer, x, lengths, state), expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)

    all_positive = lengths is None or bool((lengths > 0).all())
    if c["torch_type"] is not None and all_positive:
        module = layer.to_torch()
        out, final = torch_forward(module, x, c["lengths"], state)
        torch.testing.assert_close(out, expected[0], atol=1e-9, rtol=1e-9)
        for a, b in zip(as_tuple(final), expected[1:], strict=False):
            torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)
