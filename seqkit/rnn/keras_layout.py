"""Keras 3's recurrent layers and seqkit's: which torch.nn type each matches, gate block order, and ``to_keras``.

``to_keras`` lives here, below :mod:`seqkit.rnn.recurrent` (whose ``to_keras`` method calls it); ``from_keras``, which
builds a layer, in :mod:`seqkit.rnn.keras_interop`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from seqkit.errors import InvalidArgumentError

if TYPE_CHECKING:
    from seqkit.rnn.recurrent import Recurrent

# Keras class name -> (torch.nn type whose registered cell computes it, gate blocks, Keras -> torch block order)
# GRU: Keras's z, r, h blocks; torch's r, z, n. LSTM: both i, f, c(g), o.
KINDS: dict[str, tuple[type[nn.RNNBase], tuple[int, ...]]] = {
    "GRU": (nn.GRU, (1, 0, 2)),
    "LSTM": (nn.LSTM, (0, 1, 2, 3)),
    "SimpleRNN": (nn.RNN, (0,)),
}


def blocks(array: np.ndarray, order: tuple[int, ...], axis: int) -> np.ndarray:
    parts = np.split(array, len(order), axis=axis)
    return np.concatenate([parts[i] for i in order], axis=axis)


def to_keras(layer: Recurrent) -> Any:
    """The Keras 3 layer (``return_sequences=True``) equal to one-layer *layer*, built, with its weights."""
    import keras

    torch_type = layer.cell.torch_type
    name = next((k for k, (t, _) in KINDS.items() if t is torch_type), None)
    if name is None:
        raise InvalidArgumentError(f"to_keras: Keras has no layer equivalent to cell '{layer.kind}'")
    if layer.num_layers != 1:
        raise InvalidArgumentError(
            f"to_keras: Keras's {name} is one layer; this one has num_layers={layer.num_layers} (convert each layer)"
        )
    unsupported = [n for n in layer.regularizers.names() if n != "recurrent_dropout"]
    if unsupported:
        raise InvalidArgumentError(f"to_keras: Keras's {name} has no {', '.join(unsupported)}")
    order = KINDS[name][1]
    kwargs: dict[str, Any] = {
        "return_sequences": True,
        "recurrent_dropout": layer.regularizers.recurrent_dropout,
        **layer.cell.keras_options(),  # the cell says how its options read in Keras (use_bias, ...)
    }
    make = getattr(keras.layers, name)
    result = make(layer.hidden_size, **kwargs)
    if layer.bidirectional:
        result = keras.layers.Bidirectional(result, merge_mode="concat")
    result.build((None, None, layer.input_size))
    inverse = tuple(order.index(i) for i in range(len(order)))
    arrays = []
    for direction in range(layer.num_directions):
        arrays += _to_keras(layer.weights(0, direction), inverse, kwargs)
    result.set_weights(arrays)
    return result


def _to_keras(params: dict[str, torch.Tensor], inverse: tuple[int, ...], kwargs: dict[str, Any]) -> list[np.ndarray]:
    get = {k: v.detach().cpu().float().numpy() for k, v in params.items()}
    arrays = [blocks(get["weight_ih"].T, inverse, 1), blocks(get["weight_hh"].T, inverse, 1)]
    if kwargs["use_bias"]:
        b_ih, b_hh = blocks(get["bias_ih"], inverse, 0), blocks(get["bias_hh"], inverse, 0)
        # reset_after GRU keeps both biases; elsewhere they add up before any nonlinearity, so they fold into one
        arrays.append(np.stack([b_ih, b_hh]) if kwargs.get("reset_after") else b_ih + b_hh)
    return arrays
