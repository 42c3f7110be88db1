"""Bad arguments and tensors get errors that say what was expected."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit import InvalidArgumentError


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"input_size": 0}, "input_size must be an integer >= 1, got 0"),
        ({"hidden_size": 2.5}, "hidden_size must be an integer >= 1, got 2.5"),
        ({"num_layers": 0}, "num_layers must be an integer >= 1"),
        ({"num_layers": True}, "num_layers must be an integer >= 1, got True"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"bidirectional": "yes"}, "bidirectional must be true or false, got 'yes'"),
        ({"reset_afterr": False}, "cell 'gru' has no option 'reset_afterr'; did you mean 'reset_after'"),
        ({"reset_after": "no"}, "cell 'gru' option 'reset_after' must be true or false, got 'no'"),
        ({"backend": 3}, "backend must be a kernel name or 'auto', got 3"),
    ],
)
def test_create_rnn_rejects_bad_arguments(kwargs, message):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        seqkit.create_rnn("gru", **args)


def test_rnn_nonlinearity_must_be_known():
    with pytest.raises(InvalidArgumentError, match="'nonlinearity' must be one of tanh, relu, got 'sigmoid'"):
        seqkit.create_rnn("rnn", 3, 4, nonlinearity="sigmoid")


@pytest.fixture
def layer():
    return seqkit.create_rnn("gru", 3, 4, num_layers=2)


@pytest.mark.parametrize(
    "x,message",
    [
        (torch.zeros(2, 3), r"input must have shape \(batch, time, 3\), got \(2, 3\)"),
        (torch.zeros(2, 5, 4), r"input must have shape \(batch, time, 3\), got \(2, 5, 4\)"),
        ([[0.0]], r"input must have shape \(batch, time, 3\), got list"),
    ],
)
def test_forward_rejects_bad_input(layer, x, message):
    with pytest.raises(InvalidArgumentError, match=message):
        layer(x)


@pytest.mark.parametrize(
    "lengths,message",
    [
        (torch.tensor([5, 5, 5]), r"lengths must have shape \(2,\)"),
        (torch.tensor([6, 2]), r"lengths must lie in \[0, 5\] \(the input has 5 steps\), got 2\.\.6"),
        (torch.tensor([-1, 2]), r"lengths must lie in \[0, 5\]"),
        (torch.tensor([2.0, 3.0]), "lengths must be an integer tensor, got torch.float32"),
    ],
)
def test_forward_rejects_bad_lengths(layer, lengths, message):
    with pytest.raises(InvalidArgumentError, match=message):
        layer(torch.zeros(2, 5, 3), lengths)


def test_lengths_may_be_a_list(layer):
    out, _ = layer(torch.ones(2, 5, 3), [5, 2])
    assert torch.all(out[1, 2:] == 0) and torch.any(out[1, :2] != 0)


def test_state_of_the_wrong_shape_says_the_expected_one(layer):
    with pytest.raises(InvalidArgumentError, match=r"state h must have shape .* = \(2, 2, 4\), got \(1, 2, 4\)"):
        layer(torch.zeros(2, 5, 3), state=torch.zeros(1, 2, 4))


def test_lstm_state_must_be_a_pair():
    lstm = seqkit.create_rnn("lstm", 3, 4)
    with pytest.raises(InvalidArgumentError, match=r"state must be a tuple \(h, c\) for cell 'lstm'"):
        lstm(torch.zeros(2, 5, 3), state=torch.zeros(1, 2, 4))


def test_an_empty_batch_runs(layer):
    out, state = layer(torch.zeros(0, 4, 3), torch.zeros(0, dtype=torch.long))
    assert out.shape == (0, 4, 4) and state.shape == (2, 0, 4)


def test_input_of_another_dtype_than_the_layer_says_how_to_convert(layer):
    with pytest.raises(
        InvalidArgumentError,
        match=r"input is torch.float64 but the layer's parameters are "
        r"torch.float32; convert one of them",
    ):
        layer(torch.zeros(2, 5, 3, dtype=torch.float64))


def test_integer_input_is_refused(layer):
    with pytest.raises(InvalidArgumentError, match="input must be a floating-point tensor, got torch.int64"):
        layer(torch.zeros(2, 5, 3, dtype=torch.long))


def test_autocast_may_feed_a_lower_precision_input():
    layer = seqkit.create_rnn("gru", 3, 4, backend="reference")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(torch.zeros(2, 5, 3, dtype=torch.bfloat16))
    assert out.shape == (2, 5, 4)


def test_integer_like_sizes_are_accepted():
    import numpy as np

    layer = seqkit.create_rnn("gru", np.int64(3), torch.tensor(4), num_layers=np.int32(2))
    assert (layer.input_size, layer.hidden_size, layer.num_layers) == (3, 4, 2)
    assert isinstance(layer.hidden_size, int)
