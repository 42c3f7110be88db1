"""Keras 3 interop: ``from_keras(layer)`` and ``to_keras(layer)`` for GRU (both ``reset_after``), LSTM, SimpleRNN and
``Bidirectional`` wrappers of them, weights moved across; options seqkit lacks are refused by name."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from seqkit.errors import InvalidArgumentError
from seqkit.plugin.lazy import resolved
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.rnn.keras_layout import KINDS, blocks
from seqkit.rnn.keras_layout import to_keras as to_keras  # both ways from one module, as the API lists them
from seqkit.rnn.layers import create_rnn
from seqkit.rnn.recurrent import Recurrent

# Keras options whose values change what the layer computes (or how it trains) and that seqkit has no equivalent for
_MUST_BE = {
    "recurrent_activation": "sigmoid",
    "go_backwards": False,
    "stateful": False,
    "dropout": 0.0,
    "kernel_regularizer": None,
    "recurrent_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "recurrent_constraint": None,
    "bias_constraint": None,
}


def _kind(layer: Any) -> str:
    name = type(layer).__name__
    if name not in KINDS:
        raise InvalidArgumentError(
            f"from_keras: {name} has no seqkit equivalent (GRU, LSTM, SimpleRNN and Bidirectional wrappers of them)"
        )
    return name


def _check(name: str, config: dict[str, Any], *, backward: bool = False) -> None:
    """Refuse, naming them, the Keras options of *config* seqkit cannot compute."""
    activations = ("tanh", "relu") if name == "SimpleRNN" else ("tanh",)
    if config.get("activation") not in activations:
        raise InvalidArgumentError(
            f"from_keras: {name} activation={config.get('activation')!r}: seqkit's cell computes "
            f"{' or '.join(activations)} only"
        )
    for key, wanted in _MUST_BE.items():
        value = config.get(key, wanted)
        if key == "go_backwards" and backward:
            continue
        if key == "recurrent_activation" and name == "SimpleRNN":
            continue
        if value != wanted:
            raise InvalidArgumentError(f"from_keras: {name} {key}={value!r} has no seqkit equivalent (need {wanted!r})")


def _registered(torch_type: type[nn.RNNBase], manager: PluginManager) -> tuple[str, Any]:
    for spec in manager.cells:
        build = resolved(spec.build)  # a cell registered by name is imported here
        if isinstance(build, type) and getattr(build, "torch_type", None) is torch_type:
            return spec.name, build
    raise InvalidArgumentError(f"no registered cell computes torch.nn.{torch_type.__name__}")


def from_keras(layer: Any, *, backend: str = "auto", plugins: PluginManager | None = None) -> Recurrent:
    """The seqkit layer equal to a built Keras 3 ``GRU``/``LSTM``/``SimpleRNN`` or ``Bidirectional`` of one.

    The result is batch-first ``(B, T, I) -> (B, T, D*H)``; Keras's ``return_sequences``/``return_state`` do not
    matter (seqkit returns both). ``recurrent_dropout`` carries over; options seqkit lacks are refused by name.
    """
    manager = plugins or get_plugin_manager()
    bidirectional = type(layer).__name__ == "Bidirectional"
    directions = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
    if bidirectional and layer.merge_mode != "concat":
        raise InvalidArgumentError(f"from_keras: Bidirectional merge_mode={layer.merge_mode!r}: seqkit concatenates")
    name = _kind(directions[0])
    configs = [d.get_config() for d in directions]
    for index, (sub, config) in enumerate(zip(directions, configs)):
        if _kind(sub) != name:
            raise InvalidArgumentError("from_keras: a Bidirectional's two layers must be of one kind")
        _check(name, config, backward=index == 1)
        if not sub.built:
            raise InvalidArgumentError(f"from_keras: the {name} is not built yet; call it or build(input_shape) first")
    config = configs[0]
    torch_type, order = KINDS[name]
    kind, cell_type = _registered(torch_type, manager)
    options = cell_type.options_from_keras(config)  # the cell says which of its options the Keras layer sets
    weights = [[np.asarray(w) for w in sub.get_weights()] for sub in directions]
    result = _create(
        manager,
        kind,
        weights[0][0].shape[0],
        int(config["units"]),
        bidirectional,
        backend,
        float(config.get("recurrent_dropout", 0.0)),
        options,
    )
    with torch.no_grad():
        for direction, arrays in enumerate(weights):
            for key, value in _to_torch(arrays, order, bool(config["use_bias"])).items():
                result.weights(0, direction)[key].copy_(torch.from_numpy(value))
    return result.eval()


def _create(
    manager: PluginManager,
    kind: str,
    inputs: int,
    units: int,
    bidirectional: bool,
    backend: str,
    recurrent_dropout: float,
    options: dict[str, Any],
) -> Recurrent:
    return create_rnn(
        kind,
        inputs,
        units,
        bidirectional=bidirectional,
        backend=backend,
        plugins=manager,
        recurrent_dropout=recurrent_dropout,
        **options,
    )


def _to_torch(arrays: list[np.ndarray], order: tuple[int, ...], use_bias: bool) -> dict[str, np.ndarray]:
    """Keras's ``kernel (I, G*H)``, ``recurrent_kernel (H, G*H)``, ``bias`` -> torch.nn's names and layout."""
    kernel, recurrent = arrays[0], arrays[1]
    out = {
        "weight_ih": np.ascontiguousarray(blocks(kernel, order, 1).T, dtype=np.float32),
        "weight_hh": np.ascontiguousarray(blocks(recurrent, order, 1).T, dtype=np.float32),
    }
    if use_bias:
        bias = arrays[2]
        if bias.ndim == 2:  # GRU reset_after: the input bias and the recurrent bias
            out["bias_ih"], out["bias_hh"] = (blocks(b, order, 0).astype(np.float32) for b in bias)
        else:  # one bias, added to the input side; the recurrent side has none
            out["bias_ih"] = blocks(bias, order, 0).astype(np.float32)
            out["bias_hh"] = np.zeros_like(out["bias_ih"])
    return out
