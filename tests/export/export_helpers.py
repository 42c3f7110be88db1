"""What the export tests share: a layer wrapped so that every input and every final state part is a graph edge."""

from __future__ import annotations

import torch
from torch import nn

import seqkit


class Whole(nn.Module):
    """A layer with lengths and an initial state in, outputs and every final state part out."""

    def __init__(self, layer: seqkit.Recurrent) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths, *state):
        out, final = self.layer(x, lengths, state[0] if len(state) == 1 else state)
        return (out, final) if isinstance(final, torch.Tensor) else (out, *final)
