"""Keras 3 interop against Keras itself (torch backend): from_keras and to_keras move the weights so both compute
the same outputs, for GRU (both reset_after), LSTM, SimpleRNN and Bidirectional; options seqkit lacks are refused."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported

import numpy as np
import pytest
import torch

import seqkit

keras = pytest.importorskip("keras")

CASES = [
    ("GRU", {"reset_after": True}),
    ("GRU", {"reset_after": False}),
    ("GRU", {"reset_after": True, "use_bias": False}),
    ("LSTM", {}),
    ("SimpleRNN", {}),
    ("SimpleRNN", {"activation": "relu"}),
]


def _keras_layer(name, options, bidirectional, seed=0):
    keras.utils.set_random_seed(seed)
    layer = getattr(keras.layers, name)(6, return_sequences=True, **options)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    layer.build((None, None, 4))
    rng = np.random.default_rng(seed)  # biases start at zero in Keras: give every weight a value
    layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def _keras_out(layer, x):
    return keras.ops.convert_to_numpy(layer(x))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize(("name", "options"), CASES, ids=lambda v: str(v))
def test_from_keras_and_back_compute_what_keras_computes(name, options, bidirectional):
    layer = _keras_layer(name, options, bidirectional)
    x = np.random.default_rng(1).normal(size=(3, 5, 4)).astype("float32")
    expected = _keras_out(layer, x)
    ours = seqkit.from_keras(layer)
    assert ours.bidirectional is bidirectional
    with torch.no_grad():
        out, _ = ours(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5, rtol=0)
    back = ours.to_keras()
    np.testing.assert_allclose(_keras_out(back, x), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("kind", "options"), [("gru", {"reset_after": False}), ("gru", {}), ("lstm", {}), ("rnn", {"nonlinearity": "relu"})]
)
def test_a_seqkit_layer_with_both_biases_converts_to_keras_exactly(kind, options):
    torch.manual_seed(0)
    layer = seqkit.create_rnn(kind, 4, 6, bidirectional=True, **options).eval()  # both biases random (torch's init)
    x = torch.randn(2, 7, 4)
    with torch.no_grad():
        expected = layer(x)[0].numpy()
    np.testing.assert_allclose(_keras_out(seqkit.to_keras(layer), x.numpy()), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: keras.layers.GRU(3, activation="relu"), "activation='relu'"),
        (lambda: keras.layers.LSTM(3, recurrent_activation="hard_sigmoid"), "recurrent_activation='hard_sigmoid'"),
        (lambda: keras.layers.LSTM(3, dropout=0.2), "dropout=0.2"),
        (lambda: keras.layers.GRU(3, go_backwards=True), "go_backwards=True"),
        (lambda: keras.layers.Bidirectional(keras.layers.GRU(3), merge_mode="sum"), "merge_mode='sum'"),
        (lambda: keras.layers.Dense(3), "Dense has no seqkit equivalent"),
    ],
)
def test_options_seqkit_lacks_are_refused_by_name(make, named):
    layer = make()
    layer.build((None, None, 2) if not isinstance(layer, keras.layers.Dense) else (None, 2))
    with pytest.raises(seqkit.InvalidArgumentError) as error:
        seqkit.from_keras(layer)
    assert named in str(error.value)


def test_to_keras_refuses_what_keras_cannot_hold():
    with pytest.raises(seqkit.InvalidArgumentError, match="num_layers=2"):
        seqkit.create_rnn("gru", 3, 4, num_layers=2).to_keras()
    with pytest.raises(seqkit.InvalidArgumentError, match="cell 'ln_gru'"):
        seqkit.create_rnn("ln_gru", 3, 4).to_keras()
