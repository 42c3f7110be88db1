"""from_torch / to_torch: bring torch.nn models in and take them back out, exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seqkit

MODULES = [
    lambda: nn.GRU(3, 5, num_layers=2, bidirectional=True),
    lambda: nn.LSTM(3, 5, num_layers=2, batch_first=True, bias=False),
    lambda: nn.RNN(3, 5, nonlinearity="relu", bidirectional=True, batch_first=True),
]


@pytest.mark.parametrize("make", MODULES, ids=["gru", "lstm", "rnn_relu"])
def test_from_torch_computes_the_same_layer(make):
    torch.manual_seed(0)
    module = make().double()
    layer = seqkit.from_torch(module)
    assert layer.kind == type(module).__name__.lower()
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    expected, _ = module(x if module.batch_first else x.transpose(0, 1))
    if not module.batch_first:
        expected = expected.transpose(0, 1)
    torch.testing.assert_close(layer(x)[0], expected)
    assert next(layer.parameters()).dtype == torch.float64


@pytest.mark.parametrize("make", MODULES, ids=["gru", "lstm", "rnn_relu"])
def test_to_torch_round_trip(make):
    torch.manual_seed(0)
    layer = seqkit.from_torch(make())
    back = layer.to_torch()
    assert back.batch_first
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(back(x)[0], layer(x)[0])
    for (n1, p1), (n2, p2) in zip(back.named_parameters(), layer.named_parameters(), strict=True):
        assert n1 == n2 and torch.equal(p1, p2)


def test_torch_state_dict_loads_directly():
    module = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    layer = seqkit.create_rnn("lstm", 3, 4, num_layers=2, bidirectional=True)
    layer.load_state_dict(module.state_dict())
    assert torch.equal(layer.weight_hh_l1_reverse, module.weight_hh_l1_reverse)


def test_reset_before_gru_cannot_become_torch_nn():
    layer = seqkit.create_rnn("gru", 3, 4, reset_after=False)
    with pytest.raises(seqkit.InvalidArgumentError, match="torch.nn.GRU computes only the reset_after=true GRU"):
        layer.to_torch()


def test_lstm_with_projection_is_refused():
    with pytest.raises(seqkit.InvalidArgumentError, match="proj_size=2 has no seqkit equivalent"):
        seqkit.from_torch(nn.LSTM(3, 4, proj_size=2))


def test_a_cell_without_torch_counterpart_is_refused():
    class NotATorchLayer(nn.RNNBase):
        def __init__(self):
            nn.Module.__init__(self)

    with pytest.raises(seqkit.InvalidArgumentError, match="no registered cell converts from NotATorchLayer"):
        seqkit.from_torch(NotATorchLayer())


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_a_whole_layer_survives_torch_save_and_deepcopy(backend, tmp_path):
    import copy

    torch.manual_seed(0)
    layer = seqkit.create_rnn("lstm", 3, 4, num_layers=2, bidirectional=True, backend=backend)
    torch.save(layer, tmp_path / "layer.pt")
    loaded = torch.load(tmp_path / "layer.pt", weights_only=False)
    clone = copy.deepcopy(layer)
    x = torch.randn(2, 5, 3)
    for other in (loaded, clone):
        torch.testing.assert_close(other(x, [5, 2])[0], layer(x, [5, 2])[0])
        assert other.backend == layer.backend and other.requested_backend == backend


def test_from_torch_accepts_subclasses_and_keeps_frozen_weights():
    class MyGRU(nn.GRU):
        pass

    module = MyGRU(3, 4)
    module.weight_hh_l0.requires_grad_(False)
    layer = seqkit.from_torch(module)
    assert layer.kind == "gru"
    assert not layer.weight_hh_l0.requires_grad and layer.weight_ih_l0.requires_grad
    back = layer.to_torch()
    assert not back.weight_hh_l0.requires_grad and back.weight_ih_l0.requires_grad
