"""What ``seqkit export`` writes for a tagger: the whole model, features in, per-token scores and the CRF's out."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqkit import ExportGraph
from seqkit_tagging.model import Tagger


class ExportedTagger(nn.Module):
    """``(words, chars, casings, lengths) -> emissions (B, T, C)`` and, with a CRF, its ``transitions (C, C)``,
    ``start (C,)`` and ``end (C,)`` scores (forbidden transitions already at a large negative score), so that
    Viterbi decoding can run wherever the graph does. The tagger runs with ``every_position``: no
    data-dependent shape."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, words: Tensor, chars: Tensor, casings: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        batch = {"words": words, "chars": chars, "casings": casings, "lengths": lengths}
        emissions = self.tagger(batch, every_position=True)
        if self.tagger.crf is None:
            return (emissions,)
        return (emissions, *self.tagger.crf._scores(emissions.dtype))


def tagger_graphs(model: Tagger) -> list[ExportGraph]:
    """One graph, ``model``: token features and lengths in; emissions (and the CRF's scores) out."""
    example = {
        "words": torch.tensor([[2, 3, 4], [2, 5, 0]]),
        "chars": torch.tensor([[[2, 3], [4, 0], [5, 6]], [[2, 0], [3, 4], [0, 0]]]),
        "casings": torch.tensor([[1, 2, 1], [3, 1, 0]]),
        "lengths": torch.tensor([3, 2]),
    }
    axes = {
        "words": {0: "batch", 1: "time"},
        "chars": {0: "batch", 1: "time", 2: "characters"},
        "casings": {0: "batch", 1: "time"},
        "lengths": {0: "batch"},
        "emissions": {0: "batch", 1: "time"},
    }
    outputs = ["emissions"] if model.crf is None else ["emissions", "transitions", "start", "end"]
    what = "word, character and casing ids -> per-token tag scores" + ("" if model.crf is None else " and CRF scores")
    return [ExportGraph("model", ExportedTagger(model), example, outputs, axes, what)]
