"""A linear-chain conditional random field: forward-algorithm loss in log space, Viterbi decoding, constraints."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Added to the score of a forbidden transition: far below any real score, yet finite, so the log-sum-exp and
# its gradient stay exact (a forbidden step contributes exp(-1e4) = 0) and float16/float64 behave alike.
FORBIDDEN = -1.0e4


class CRF(nn.Module):
    """Scores tag sequences: ``score(y) = start[y_0] + Σ_t emissions[t, y_t] + Σ_t trans[y_{t-1}, y_t] + end[y_last]``.

    ``allowed (C, C)``, ``start_allowed (C,)``, ``end_allowed (C,)``: which transitions may occur (see
    :func:`seqkit_tagging.schemes.allowed_transitions`); a forbidden one scores ``FORBIDDEN``, so neither the
    partition function nor Viterbi ever follow it. Every method takes batch-first ``emissions (B, T, C)`` and
    ``lengths (B,)`` (each ≥ 1); positions at and past a sentence's length are ignored.
    """

    def __init__(
        self,
        num_tags: int,
        allowed: Tensor | None = None,
        start_allowed: Tensor | None = None,
        end_allowed: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        full = torch.ones(num_tags, dtype=torch.bool)
        self.register_buffer("allowed", allowed if allowed is not None else torch.ones(num_tags, num_tags).bool())
        self.register_buffer("start_allowed", start_allowed if start_allowed is not None else full)
        self.register_buffer("end_allowed", end_allowed if end_allowed is not None else full.clone())
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    def _scores(self, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        """Transition, start and end scores with the forbidden ones masked, in *dtype*."""
        trans = self.transitions.to(dtype).masked_fill(~self.allowed, FORBIDDEN)
        start = self.start.to(dtype).masked_fill(~self.start_allowed, FORBIDDEN)
        end = self.end.to(dtype).masked_fill(~self.end_allowed, FORBIDDEN)
        return trans, start, end

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """``(B,)``: the score of each gold sequence ``tags (B, T)`` (values past the length are ignored)."""
        trans, start, end = self._scores(emissions.dtype)
        _batch, steps, _ = emissions.shape
        mask = torch.arange(steps, device=emissions.device)[None, :] < lengths[:, None]  # (B, T)
        tags = tags.clamp(min=0) * mask  # padding labels (-100) become a harmless 0, then masked out
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        total = start[tags[:, 0]] + (emitted * mask).sum(1)
        if steps > 1:
            steps_scores = trans[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
            total = total + (steps_scores * mask[:, 1:]).sum(1)
        last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return total + end[last]

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``(B,)``: log Σ exp(score) over all tag sequences: the forward algorithm, vectorised over the batch."""
        trans, start, end = self._scores(emissions.dtype)
        alpha = start + emissions[:, 0]  # (B, C): log-sum of the paths ending in each tag
        for t in range(1, emissions.shape[1]):
            # (B, C_prev, 1) + (C_prev, C) + (B, 1, C) → log-sum over the previous tag
            step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where((t < lengths).unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def nll(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """``(B,)``: the negative log-likelihood of each gold sequence."""
        return self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)

    @torch.no_grad()
    def decode(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``(B, T)`` long: the best tag sequence of each sentence (Viterbi); 0 past each length."""
        trans, start, end = self._scores(emissions.dtype)
        batch, steps, _ = emissions.shape
        best = start + emissions[:, 0]  # (B, C)
        pointers = []
        for t in range(1, steps):
            candidates = best.unsqueeze(2) + trans  # (B, C_prev, C)
            value, pointer = candidates.max(dim=1)
            live = (t < lengths).unsqueeze(1)
            best = torch.where(live, value + emissions[:, t], best)
            # past the end the pointer keeps each tag in place, so backtracking walks through the padding unchanged
            keep = torch.arange(self.num_tags, device=emissions.device).expand(batch, -1)
            pointers.append(torch.where(live, pointer, keep))
        tag = (best + end).argmax(dim=1)  # (B,)
        path = [tag]
        for pointer in reversed(pointers):
            tag = pointer.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        out = torch.stack(path[::-1], dim=1)
        mask = torch.arange(steps, device=emissions.device)[None, :] < lengths[:, None]
        return out * mask
