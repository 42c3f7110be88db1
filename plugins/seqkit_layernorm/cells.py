"""One step of a layer-normalised GRU or LSTM: LN on the input and recurrent pre-activations (and the LSTM's cell).

``project`` is the input GEMM alone, ``W_x x`` for every step at once; the step normalises its slice. LN over the
whole ``(B, T, gates*H)`` projection in ``project`` cost passes over that tensor (13 MB at B=32, T=100, 4H=1024)
out of cache, forward and backward; in the step it reads rows just computed, and the ``generic`` kernel's compiled
step fuses it with the recurrent side's LN and the gates (``ln_lstm``: 1.37-1.52x -> 1.22-1.26x
``torch.nn.GRU``'s time, docs/benchmarks.md).
Each ``bias_*`` is added through LN's own bias, ``LN(v; g, b) + c = LN(v; g, b + c)``: one vector add, no pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from seqkit import Cell, InvalidArgumentError, Params, State, check_bool, linear, torch_style_shapes


def _check_eps(cell: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidArgumentError(f"cell '{cell}' option 'ln_eps' must be a number above 0, got {value!r}")
    return float(value)


class _LayerNormCell(Cell):
    """What both cells share: torch.nn's weights and biases, plus a gain and bias per normalised vector.

    ``LN(v; g, b) = g ⊙ (v − mean(v)) / sqrt(var(v) + ln_eps) + b`` over the whole vector (all gates at once),
    with the biased variance. Gains ``ln_*_weight`` start at 1 and LN biases ``ln_*_bias`` at 0; their names
    have no initialiser role, so ``kernel_init``/``recurrent_init``/``bias_init`` leave them alone.
    """

    gates = 0
    kind = ""
    normalised = ("ih", "hh")
    takes_recurrent_mask = True

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True, ln_eps: float = 1e-5) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = check_bool(self.kind, "bias", bias)
        self.ln_eps = _check_eps(self.kind, ln_eps)

    @property
    def options(self) -> dict[str, Any]:
        return {"bias": self.bias, "ln_eps": self.ln_eps}

    def _ln_width(self, part: str) -> int:
        return self.hidden_size if part == "c" else self.gates * self.hidden_size

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = torch_style_shapes(self, self.gates, bias=self.bias)
        for part in self.normalised:
            shapes[f"ln_{part}_weight"] = (self._ln_width(part),)
            shapes[f"ln_{part}_bias"] = (self._ln_width(part),)
        return shapes

    def reset_parameters(self, params: Params) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in params.items():
                if name.startswith("ln_"):
                    p.fill_(1.0 if name.endswith("_weight") else 0.0)
                else:
                    p.uniform_(-bound, bound)

    def _ln(self, params: Params, part: str, v: Tensor) -> Tensor:
        """LN(v) with the part's gain and bias, plus ``bias_<part>`` where there is one (folded into LN's bias)."""
        width = self._ln_width(part)
        shift = params[f"ln_{part}_bias"]
        if self.bias and part != "c":
            shift = shift + params[f"bias_{part}"]
        return F.layer_norm(v, (width,), params[f"ln_{part}_weight"], shift, self.ln_eps)

    def project(self, params: Params, x: Tensor) -> Tensor:
        # the input GEMM for every step at once; its LN runs in the step (the module's docstring says why)
        return linear(x, params["weight_ih"])

    def _recurrent(self, params: Params, h: Tensor, mask: Tensor | None) -> Tensor:
        """LN(W_h (h ⊙ mask)) + b_hh: the recurrent pre-activations; recurrent dropout reaches only the matmul."""
        return self._ln(params, "hh", F.linear(h if mask is None else h * mask, params["weight_hh"]))


class LayerNormGRUCell(_LayerNormCell):
    """Layer-normalised GRU, gates r, z, n in torch.nn.GRU's order, reset gate after the recurrent matmul::

    a = LN(W_x x; g_x, b_x) + b_ih           (3H; W_x x in project)
    b = LN(W_h h; g_h, b_h) + b_hh           (3H)
    r = σ(a_r + b_r);  z = σ(a_z + b_z);  n = tanh(a_n + r ⊙ b_n)
    h' = (1 − z) ⊙ n + z ⊙ h
    """

    gates = 3
    kind = "ln_gru"

    def step(
        self, params: Params, u_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        (h,) = state
        a_r, a_z, a_n = self._ln(params, "ih", u_t).split(self.hidden_size, dim=-1)
        b_r, b_z, b_n = self._recurrent(params, h, recurrent_mask).split(self.hidden_size, dim=-1)
        r = torch.sigmoid(a_r + b_r)
        z = torch.sigmoid(a_z + b_z)
        n = torch.tanh(a_n + r * b_n)
        h = n + z * (h - n)
        return h, (h,)


class LayerNormLSTMCell(_LayerNormCell):
    """Layer-normalised LSTM, gates i, f, g, o in torch.nn.LSTM's order; the state is ``(h, c)``::

        gates = LN(W_x x; g_x, b_x) + b_ih + LN(W_h h; g_h, b_h) + b_hh    (4H; W_x x in project)
        c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
        h' = σ(o) ⊙ tanh(LN(c'; g_c, b_c))

    ``forget_bias`` applies (``bias_ih``/``bias_hh`` are laid out as torch.nn.LSTM's).
    """

    gates = 4
    kind = "ln_lstm"
    state_names = ("h", "c")
    normalised = ("ih", "hh", "c")
    lstm_gates = True

    def step(
        self, params: Params, u_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h, c = state
        i, f, g, o = (self._ln(params, "ih", u_t) + self._recurrent(params, h, recurrent_mask)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self._ln(params, "c", c))
        return h, (h, c)
