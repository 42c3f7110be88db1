"""What the export tests share: a layer wrapped so that every input and every final state part is a graph edge, and
the functions docs/deploy.md defines (the exported bundles' numpy code)."""

from __future__ import annotations

import torch
from torch import nn

import seqkit
from tests.docs.doc_blocks import blocks
from tests.helpers import ROOT


class Whole(nn.Module):
    """A layer with lengths and an initial state in, outputs and every final state part out."""

    def __init__(self, layer: seqkit.Recurrent) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths, *state):
        out, final = self.layer(x, lengths, state[0] if len(state) == 1 else state)
        return (out, final) if isinstance(final, torch.Tensor) else (out, *final)


def deploy_code() -> dict:
    """The namespace of docs/deploy.md's Python blocks that define functions (their demo calls left out)."""
    namespace: dict = {}
    for block in blocks(ROOT / "docs" / "deploy.md"):
        if block.language == "python" and block.runs and "def " in block.text:
            code = "\n".join(line for line in block.text.splitlines() if not line.startswith("print("))
            exec(compile(code, block.where, "exec"), namespace)
    return namespace
