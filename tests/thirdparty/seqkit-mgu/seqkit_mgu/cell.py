"""One step of the minimal gated unit: a single forget gate controls both reset and update."""

import torch
from torch.nn import functional as F

import seqkit


class MGUCell(seqkit.Cell):
    def parameter_shapes(self):
        h, i = self.hidden_size, self.input_size
        return {"weight_ih": (2 * h, i), "weight_hh": (2 * h, h), "bias_ih": (2 * h,), "bias_hh": (2 * h,)}

    def project(self, params, x):
        return F.linear(x, params["weight_ih"], params["bias_ih"])

    def step(self, params, u_t, state):
        (h,) = state
        hs = self.hidden_size
        u_f, u_h = u_t.split(hs, dim=-1)
        w_f, w_h = params["weight_hh"].split(hs)
        b_f, b_h = params["bias_hh"].split(hs)
        f = torch.sigmoid(u_f + F.linear(h, w_f, b_f))
        candidate = torch.tanh(u_h + F.linear(f * h, w_h, b_h))
        h = (1 - f) * h + f * candidate
        return h, (h,)
