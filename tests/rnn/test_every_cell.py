"""Runner properties over every registered cell (dropout between layers, bfloat16, step() refusing a bidirectional
layer); the conformance kit's checks (lengths, kernel parity, empty sequences, NaN padding, step, registration of
the built-ins) run in tests/testing/test_conformance.py."""

from __future__ import annotations

import pytest
import torch

import seqkit

MANAGER = seqkit.PluginManager()
CELL_KINDS = MANAGER.cells.names()


def _layer(kind, backend="auto", layers=2, bidirectional=True):
    torch.manual_seed(0)
    return seqkit.create_rnn(kind, 3, 4, num_layers=layers, bidirectional=bidirectional, backend=backend).double()


def test_step_refuses_a_bidirectional_layer():
    layer = _layer("gru", bidirectional=True)
    with pytest.raises(seqkit.InvalidArgumentError, match="unidirectional"):
        layer.step(torch.zeros(1, 3, dtype=torch.float64))


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_dropout_acts_between_layers_in_training_only(kind):
    torch.manual_seed(0)
    dropped = seqkit.create_rnn(kind, 3, 4, num_layers=2, dropout=0.5)
    plain = seqkit.create_rnn(kind, 3, 4, num_layers=2)
    plain.load_state_dict(dropped.state_dict())
    x = torch.randn(2, 5, 3)
    assert not torch.allclose(dropped.train()(x)[0], plain(x)[0])
    torch.testing.assert_close(dropped.eval()(x)[0], plain(x)[0])


def test_dropout_with_one_layer_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match="between layers"):
        seqkit.create_rnn("gru", 3, 4, dropout=0.3)


@pytest.mark.parametrize("backend", ["reference", "native"])
def test_bfloat16_runs_close_to_float32(backend):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", 8, 16, backend=backend)
    x = torch.randn(4, 10, 8)
    expected = layer(x)[0]
    got = layer.to(torch.bfloat16)(x.to(torch.bfloat16))[0]
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, atol=3e-2, rtol=3e-2)
