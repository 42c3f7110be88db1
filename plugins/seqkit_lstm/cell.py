"""One LSTM step in torch.nn.LSTM's gate order (i, f, g, o) and parameter layout."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit import Cell, OnnxOp, Params, State, check_bool, linear, torch_style_shapes


class LSTMCell(Cell):
    """c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);  h' = σ(o) ⊙ tanh(c'); the state is ``(h, c)``."""

    state_names = ("h", "c")
    torch_type = nn.LSTM
    takes_recurrent_mask = True
    lstm_gates = True

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = check_bool("lstm", "bias", bias)

    @property
    def options(self) -> dict[str, Any]:
        return {"bias": self.bias}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return torch_style_shapes(self, 4, bias=self.bias)

    def project(self, params: Params, x: Tensor) -> Tensor:
        return linear(x, params["weight_ih"], params.get("bias_ih"))

    def step(
        self, params: Params, u_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h, c = state
        h_in = h if recurrent_mask is None else h * recurrent_mask  # recurrent dropout: the matmul's h only
        gates = u_t + F.linear(h_in, params["weight_hh"], params.get("bias_hh"))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def torch_options(self) -> dict[str, Any]:
        return {"bias": self.bias}

    def onnx_op(self) -> OnnxOp:
        return OnnxOp("LSTM", (0, 3, 1, 2))  # ONNX's gates are i, o, f, c; torch's i, f, g, o

    @classmethod
    def options_from_torch(cls, module: nn.RNNBase) -> dict[str, Any]:
        return {"bias": module.bias}
