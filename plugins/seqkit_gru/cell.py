"""One GRU step, with the reset gate after (cuDNN, PyTorch, Keras) or before (Cho et al.) the recurrent matmul."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqkit import Cell, InvalidArgumentError, OnnxOp, Params, State, check_bool, linear, torch_style_shapes


class GRUCell(Cell):
    """Gates r, z, n in torch.nn.GRU's order and parameter layout (``weight_ih`` is ``(3H, I)``).

    ``reset_after=True``:  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    ``reset_after=False``: n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
    both:                  h' = z ⊙ h + (1 − z) ⊙ n
    """

    torch_type = nn.GRU
    takes_recurrent_mask = True
    bench_variants = ({"reset_after": False},)  # the formulation torch.nn cannot run

    def __init__(self, input_size: int, hidden_size: int, *, reset_after: bool = True, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        self.reset_after = check_bool("gru", "reset_after", reset_after)
        self.bias = check_bool("gru", "bias", bias)

    @property
    def options(self) -> dict[str, Any]:
        return {"reset_after": self.reset_after, "bias": self.bias}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return torch_style_shapes(self, 3, bias=self.bias)

    def project(self, params: Params, x: Tensor) -> Tensor:
        return linear(x, params["weight_ih"], params.get("bias_ih"))

    def step(
        self, params: Params, u_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        (h,) = state
        # recurrent dropout reaches only the h that enters the matmuls, never the carried state
        h_in = h if recurrent_mask is None else h * recurrent_mask
        hs = self.hidden_size
        w_hh, b_hh = params["weight_hh"], params.get("bias_hh")
        u_r, u_z, u_n = u_t.split(hs, dim=-1)
        if self.reset_after:
            g_r, g_z, g_n = F.linear(h_in, w_hh, b_hh).split(hs, dim=-1)
            r = torch.sigmoid(u_r + g_r)
            z = torch.sigmoid(u_z + g_z)
            n = torch.tanh(u_n + r * g_n)
        else:
            g_r, g_z = F.linear(h_in, w_hh[: 2 * hs], None if b_hh is None else b_hh[: 2 * hs]).split(hs, dim=-1)
            r = torch.sigmoid(u_r + g_r)
            z = torch.sigmoid(u_z + g_z)
            n = torch.tanh(u_n + F.linear(r * h_in, w_hh[2 * hs :], None if b_hh is None else b_hh[2 * hs :]))
        h = n + z * (h - n)
        return h, (h,)

    def torch_options(self) -> dict[str, Any]:
        if not self.reset_after:
            raise InvalidArgumentError(
                "torch.nn.GRU computes only the reset_after=true GRU; this layer has reset_after=false"
            )
        return {"bias": self.bias}

    def onnx_op(self) -> OnnxOp:
        # ONNX's gates are z, r, h; linear_before_reset=1 is the reset-after form, 0 Cho et al.'s
        return OnnxOp("GRU", (1, 0, 2), {"linear_before_reset": int(self.reset_after)})

    @classmethod
    def options_from_torch(cls, module: nn.RNNBase) -> dict[str, Any]:
        return {"reset_after": True, "bias": module.bias}

    def keras_options(self) -> dict[str, Any]:
        return {"use_bias": self.bias, "reset_after": self.reset_after}  # Keras runs both formulations

    @classmethod
    def options_from_keras(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {"bias": bool(config["use_bias"]), "reset_after": bool(config["reset_after"])}
