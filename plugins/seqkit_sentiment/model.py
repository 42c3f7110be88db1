"""The sentiment model: embedding → recurrent encoder → pooling over valid steps → classifier."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from seqkit import PAD_ID, UNK_ID, Recurrent, valid_mask

Pooling = Literal["last", "mean", "max", "attention"]


class SentimentModel(nn.Module):
    """``forward(tokens (B, T), lengths (B,)) -> logits (B, C)``; padding never affects the result.

    During training each token becomes the unknown word with probability ``word_dropout``: the classifier
    cannot lean on any single word, and the unknown word's vector (what every word unseen in training maps
    to) learns to stand in for a word.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        encoder: Recurrent,
        num_classes: int,
        pooling: Pooling,
        dropout: float,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        # Unit-length vectors rather than torch's N(0, 1): Adam moves every weight by about lr per step, so
        # embeddings of size ~1 per coordinate barely change for epochs (on MR: 62% vs 73% after one epoch).
        nn.init.normal_(self.embed.weight, std=embed_dim**-0.5)
        with torch.no_grad():
            self.embed.weight[PAD_ID].zero_()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = word_dropout
        width = encoder.output_size * encoder.num_directions
        self.attention = (
            nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1, bias=False))
            if pooling == "attention"
            else None
        )
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        if self.training:
            tokens = drop_words(tokens, self.word_dropout)
        outputs, _ = self.encoder(self.dropout(self.embed(tokens)), lengths)  # (B, T, D*H)
        return self.classifier(
            self.dropout(
                pool(
                    outputs, lengths, self.pooling, self.attention, self.encoder.output_size, self.encoder.bidirectional
                )
            )
        )


def drop_words(tokens: Tensor, p: float) -> Tensor:
    """*tokens* with each real token (not padding) replaced by the unknown word with probability *p*."""
    if p <= 0:
        return tokens
    drop = torch.rand(tokens.shape, device=tokens.device) < p
    return tokens.masked_fill(drop & (tokens != PAD_ID), UNK_ID)


def pool(
    outputs: Tensor,
    lengths: Tensor,
    mode: Pooling,
    attention: nn.Module | None = None,
    hidden: int = 0,
    bidirectional: bool = False,
) -> Tensor:
    """``(B, T, W)`` outputs → ``(B, W)`` over each sequence's valid steps only.

    ``last``: the forward direction's output at the last valid step (and, bidirectional, the backward
    direction's at the first step: each direction's final state).
    """
    mask = valid_mask(lengths.to(outputs.device), outputs.shape[1]).unsqueeze(-1)  # (B, T, 1)
    if mode == "mean":
        return (outputs * mask).sum(1) / lengths.clamp(min=1).to(outputs.dtype).unsqueeze(-1)
    if mode == "max":
        return outputs.masked_fill(~mask, float("-inf")).amax(1)
    if mode == "attention":
        scores = attention(outputs).masked_fill(~mask, float("-inf"))  # (B, T, 1)
        return (torch.softmax(scores, dim=1) * outputs).sum(1)
    last = (lengths - 1).clamp(min=0).to(outputs.device)
    forward = outputs[torch.arange(outputs.shape[0], device=outputs.device), last]
    if not bidirectional:
        return forward
    return torch.cat([forward[:, :hidden], outputs[:, 0, hidden:]], dim=-1)


class SentimentEnsemble(nn.Module):
    """``members`` independently initialised classifiers (any modules mapping tokens and lengths to logits);
    ``forward`` gives the log of their probabilities' mean, weighted by ``weights`` (equal by default).

    Each member is trained on its own cross-entropy (:meth:`member_logits`), not on the mixture's: members
    trained through the mixture would co-adapt, and averaging helps only as far as their errors differ.
    """

    def __init__(self, members: list[nn.Module], weights: list[float] | None = None) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        weights = weights or [1.0] * len(members)
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"an ensemble of {len(members)} members needs as many weights >= 0, got {weights}")
        # not saved with the weights: the recipe gives them, and checkpoints stay those of an unweighted ensemble
        # computed on the CPU, then moved: arithmetic on a meta tensor (validate's dry build) imports torch._dynamo
        log_weights = torch.tensor(weights, device="cpu").div(sum(weights)).log()
        self.register_buffer("log_weights", log_weights.to(torch.get_default_device()), persistent=False)

    def member_logits(self, tokens: Tensor, lengths: Tensor) -> list[Tensor]:
        return [member(tokens, lengths) for member in self.members]

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return self.mixture(self.member_logits(tokens, lengths))

    def mixture(self, logits: list[Tensor]) -> Tensor:
        """The log of the members' weighted mean probabilities: logits whose softmax is that mean."""
        log_probs = torch.stack([m.float().log_softmax(-1) for m in logits])
        return torch.logsumexp(log_probs + self.log_weights[:, None, None], 0)
