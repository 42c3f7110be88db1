"""The tagger: word features → a recurrent encoder (any cell, any depth, bidirectional) → per-tag scores → CRF."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit_tagging.crf import CRF
from seqkit_tagging.words import WordFeatures

IGNORE = -100  # the label of padding positions: no loss, no metric


class Tagger(nn.Module):
    """``forward(batch) -> emissions (B, T, C)``; :meth:`loss` and :meth:`decode` read a collated batch.

    ``output="crf"`` scores whole tag sequences (loss: negative log-likelihood per sentence; decoding:
    Viterbi under the transition constraints); ``"softmax"`` scores each token alone (cross-entropy, argmax).
    """

    def __init__(
        self, features: WordFeatures, encoder: nn.Module, num_tags: int, *, dropout: float, crf: CRF | None
    ) -> None:
        super().__init__()
        self.features = features
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.hidden_size * encoder.num_directions, num_tags)
        self.crf = crf

    def forward(self, batch: dict[str, Tensor], *, every_position: bool = False) -> Tensor:
        """*every_position*: see :meth:`WordFeatures.forward` (what an exported graph runs)."""
        x = self.features(batch["words"], batch["chars"], batch["casings"], every_position=every_position)  # (B,T,F)
        outputs, _ = self.encoder(self.dropout(x), batch["lengths"])  # (B, T, D·H), zero past each end
        return self.classifier(self.dropout(outputs))

    def loss(self, emissions: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Mean over sentences of the CRF's negative log-likelihood, or mean cross-entropy over tokens."""
        labels = batch["labels"]
        if self.crf is None:
            return F.cross_entropy(emissions.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
        return self.crf.nll(emissions.float(), labels, batch["lengths"]).mean()

    def decode(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """``(B, T)`` tag indices; 0 past each length."""
        if self.crf is None:
            mask = torch.arange(emissions.shape[1], device=emissions.device)[None, :] < lengths[:, None]
            return emissions.argmax(-1) * mask
        return self.crf.decode(emissions.float(), lengths)


def build_tagger(
    cell_factory: Any,
    vocab_size: int,
    num_chars: int,
    rare: Tensor,
    num_tags: int,
    constraints: tuple[Tensor, Tensor, Tensor] | None,
    *,
    output: str,
    dropout: float,
    **features: Any,
) -> Tagger:
    """A :class:`Tagger` whose encoder is the recipe's cell; *features* are :class:`WordFeatures` options."""
    words = WordFeatures(vocab_size, num_chars, rare, **features)
    crf = None
    if output == "crf":
        crf = CRF(num_tags, *constraints) if constraints is not None else CRF(num_tags)
    return Tagger(words, cell_factory(words.out_size), num_tags, dropout=dropout, crf=crf)
