"""Source–target attention: ``additive`` (Bahdanau), ``dot`` and ``general`` (Luong), masked over padding."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

AttentionKind = Literal["additive", "dot", "general"]


class Attention(nn.Module):
    """``forward(query (B, H), memory (B, S, M), keys, mask (B, S), coverage (B, S) | None)``
    ``-> (context (B, M), weights (B, S))``; ``keys`` is :meth:`keys` of the memory, computed once per source.

    ``weights`` sum to 1 over each row's valid source positions and are exactly 0 on padding. ``dot``
    needs ``M == H``. With ``coverage`` (See et al., 2017), the additive score also sees the attention
    already paid to each position.
    """

    def __init__(self, kind: AttentionKind, query_size: int, memory_size: int, *, coverage: bool = False) -> None:
        super().__init__()
        if kind not in ("additive", "dot", "general"):
            raise ValueError(f"attention must be additive, dot or general, got {kind!r}")
        if kind == "dot" and query_size != memory_size:
            raise ValueError(
                f"attention 'dot' needs the encoder's output width ({memory_size}) to equal the decoder's hidden "
                f"size ({query_size}); use 'general' (a bidirectional encoder doubles the width)"
            )
        self.kind = kind
        self.coverage = coverage
        if kind == "additive":
            self.query = nn.Linear(query_size, query_size, bias=True)
            self.key = nn.Linear(memory_size, query_size, bias=False)
            self.v = nn.Linear(query_size, 1, bias=False)
            self.cover = nn.Linear(1, query_size, bias=False) if coverage else None
        elif kind == "general":
            self.key = nn.Linear(memory_size, query_size, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """The memory's projection that does not depend on the query, computed once per source: ``(B, S, ·)``."""
        return memory if self.kind == "dot" else self.key(memory)

    def forward(
        self, query: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, coverage: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if self.kind == "additive":
            hidden = keys + self.query(query).unsqueeze(1)  # (B, S, H)
            if self.cover is not None and coverage is not None:
                hidden = hidden + self.cover(coverage.unsqueeze(-1))
            scores = self.v(torch.tanh(hidden)).squeeze(-1)  # (B, S)
        else:
            scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (B, S)
        scores = scores.float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).masked_fill(~mask, 0.0).to(memory.dtype)  # (B, S)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)  # (B, M)
        return context, weights
