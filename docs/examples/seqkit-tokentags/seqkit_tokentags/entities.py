"""Entities from BIO tags, and entity-level precision, recall and F1 (exact span and type, as conlleval counts)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric


def spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """``(type, start, end)`` of each entity in *tags* (``end`` exclusive).

    ``B-X`` starts an entity; ``I-X`` continues one of type X, or starts one after ``O`` or another type
    (conlleval's reading of an ill-formed sequence); ``O`` and any tag without ``B-``/``I-`` are outside.
    """
    found: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        begins = prefix == "B" or (prefix == "I" and label != kind)
        if kind is not None and (begins or prefix not in ("B", "I")):
            found.add((kind, start, i))
            kind = None
        if begins and label:
            kind, start = label, i
    return found


class EntityF1(Metric):
    """Micro F1 over entities: one counts only where type and exact span match the gold one."""

    full_state_update = False

    def __init__(self, tags: Sequence[str]) -> None:
        super().__init__()
        self.tags = list(tags)
        for name in ("true_positives", "predicted", "gold"):
            self.add_state(name, default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, predicted: Sequence[Sequence[int]], gold: Sequence[Sequence[int]]) -> None:
        """One list of tag indices per sentence (its real tokens only), predicted and gold."""
        for p, g in zip(predicted, gold, strict=True):
            ps, gs = spans([self.tags[i] for i in p]), spans([self.tags[i] for i in g])
            self.true_positives += len(ps & gs)
            self.predicted += len(ps)
            self.gold += len(gs)

    def compute(self) -> torch.Tensor:
        tp = self.true_positives.double()
        denominator = self.predicted + self.gold
        return (2 * tp / denominator).float() if denominator > 0 else torch.tensor(0.0)
