"""One step of the minimal gated unit: a single forget gate controls both reset and update."""

import torch
from torch.nn import functional as F

import seqkit
from seqkit import torch_style_shapes


class MGUCell(seqkit.Cell):
    def parameter_shapes(self):
        return torch_style_shapes(self, gates=2)  # weight_ih (2H, I), weight_hh (2H, H), bias_ih, bias_hh

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
