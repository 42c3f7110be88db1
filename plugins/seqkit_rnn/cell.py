"""One Elman RNN step: h' = act(W_ih x + b_ih + W_hh h + b_hh), as torch.nn.RNN computes it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit import Cell, InvalidArgumentError, OnnxOp, Params, State, check_bool, linear, torch_style_shapes

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class ElmanCell(Cell):
    """Elman (1990): the previous hidden state feeds back into the next step."""

    torch_type = nn.RNN
    takes_recurrent_mask = True

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh", bias: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        if nonlinearity not in NONLINEARITIES:
            raise InvalidArgumentError(
                f"cell 'rnn' option 'nonlinearity' must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self.activation = NONLINEARITIES[nonlinearity]
        self.bias = check_bool("rnn", "bias", bias)

    @property
    def options(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity, "bias": self.bias}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return torch_style_shapes(self, 1, bias=self.bias)

    def project(self, params: Params, x: Tensor) -> Tensor:
        return linear(x, params["weight_ih"], params.get("bias_ih"))

    def step(
        self, params: Params, u_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        (h,) = state
        if recurrent_mask is not None:  # recurrent dropout: h enters only the matmul here
            h = h * recurrent_mask
        h = self.activation(u_t + F.linear(h, params["weight_hh"], params.get("bias_hh")))
        return h, (h,)

    def torch_options(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity, "bias": self.bias}

    def onnx_op(self) -> OnnxOp:
        return OnnxOp("RNN", (0,), {"activations": ["Tanh" if self.nonlinearity == "tanh" else "Relu"]})

    @classmethod
    def options_from_torch(cls, module: nn.RNNBase) -> dict[str, Any]:
        return {"nonlinearity": module.nonlinearity, "bias": module.bias}

    def keras_options(self) -> dict[str, Any]:
        return {"use_bias": self.bias, "activation": self.nonlinearity}

    @classmethod
    def options_from_keras(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {"bias": bool(config["use_bias"]), "nonlinearity": config["activation"]}
