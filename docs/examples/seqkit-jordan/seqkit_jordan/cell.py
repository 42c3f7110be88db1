"""One step of a Jordan network: a hidden layer reads the input and the previous output; the output is the state."""

import torch
from torch.nn import functional as F

import seqkit
from seqkit import check_bool


class JordanCell(seqkit.Cell):
    """``a = tanh(W_ih x + b_ih + W_hh y_prev + b_hh)``; ``y = tanh(W_ho a + b_ho)``; state ``(y,)``."""

    state_names = ("y",)

    def __init__(self, input_size, hidden_size, *, bias=True):
        super().__init__(input_size, hidden_size)
        self.bias = check_bool("jordan", "bias", bias)

    @property
    def options(self):
        return {"bias": self.bias}

    def parameter_shapes(self):
        h, i = self.hidden_size, self.input_size
        shapes = {"weight_ih": (h, i), "weight_hh": (h, h), "weight_ho": (h, h)}
        if self.bias:
            shapes.update(bias_ih=(h,), bias_hh=(h,), bias_ho=(h,))
        return shapes

    def project(self, params, x):
        return F.linear(x, params["weight_ih"], params.get("bias_ih"))  # (..., I) -> (..., H), all steps at once

    def step(self, params, u_t, state):
        (y,) = state  # the previous step's output, (B, H)
        a = torch.tanh(u_t + F.linear(y, params["weight_hh"], params.get("bias_hh")))
        y = torch.tanh(F.linear(a, params["weight_ho"], params.get("bias_ho")))
        return y, (y,)
