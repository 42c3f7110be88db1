"""Entity-level precision, recall and F1 (conlleval's definition, micro-averaged), overall or for one type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torchmetrics import Metric

from seqkit_tagging.schemes import Span, entity_spans

Score = Literal["precision", "recall", "f1"]


class EntityScore(Metric):
    """Counts entities whose type and exact span match the gold ones (conlleval), over every sentence seen.

    ``kind``: only entities of this type (None: all, micro-averaged); ``score``: what :meth:`compute` returns.
    :meth:`update` takes each sentence's spans (:func:`sentence_spans`) so that several scores share one reading.
    A score with nothing to count (no prediction for precision, no gold entity for recall) is 0, as in conlleval.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, kind: str | None = None, score: Score = "f1") -> None:
        super().__init__()
        self.kind, self.score = kind, score
        for name in ("correct", "predicted", "gold"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predicted: Sequence[Sequence[Span]], gold: Sequence[Sequence[Span]]) -> None:
        """One list of ``(type, start, end)`` spans per sentence, predicted and gold."""
        correct = found = wanted = 0
        for p, g in zip(predicted, gold, strict=True):
            if self.kind is not None:
                p = [s for s in p if s[0] == self.kind]
                g = [s for s in g if s[0] == self.kind]
            correct += len(set(p) & set(g))
            found += len(p)
            wanted += len(g)
        self.correct += correct
        self.predicted += found
        self.gold += wanted

    def compute(self) -> torch.Tensor:
        correct = self.correct.double()
        precision = correct / self.predicted if self.predicted > 0 else correct.new_tensor(0.0)
        recall = correct / self.gold if self.gold > 0 else correct.new_tensor(0.0)
        if self.score == "precision":
            return precision.float()
        if self.score == "recall":
            return recall.float()
        both = precision + recall
        return (2 * precision * recall / both).float() if both > 0 else torch.tensor(0.0)


def sentence_spans(rows: Sequence[Sequence[int]], tags: Sequence[str]) -> list[list[Span]]:
    """The entity spans of each sentence's tag indices."""
    return [entity_spans([tags[i] for i in row]) for row in rows]


def entity_types(tags: Sequence[str]) -> list[str]:
    """The entity types the tags name (``PER`` of ``B-PER``), sorted."""
    return sorted({kind for kind in (entity_spans([t])[0][0] for t in tags if entity_spans([t])) if kind})
