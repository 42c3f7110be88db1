"""Analysis (not a test): what other mixtures of a trained sentiment ensemble's members would have scored.

    python benchmarks/ensemble_mixtures.py runs/sentiment/gru_polarity/*/best.ckpt > mixtures.jsonl

For each checkpoint of an ensemble whose last member is the n-gram member (``model.ngrams``), prints one JSON
line: ``{checkpoint: {"k:w": [validation %, test %]}}`` for the mixture of the first ``k`` recurrent members,
averaged, with the n-gram member at weight ``w`` (``w = 0``: recurrent members only; ``w = 1``: the n-gram member
alone). The members are those of the checkpoint the ensemble chose, so each line estimates, on validation,
what a recipe trained as that mixture would score. docs/results.md (MR) chose the recipe's mixture this way.
"""

from __future__ import annotations

import json
import sys

import torch

from seqkit.run.checkpoint import load

WEIGHTS = (0.0, 0.25, 0.33, 0.5, 0.67, 1.0)


@torch.no_grad()
def member_probabilities(parts, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(members, N, C)`` probabilities and ``(N,)`` labels of one split."""
    model = parts.module.model.eval()
    probs, labels = [], []
    for batch in parts.data.loader(split):
        probs.append(torch.stack([m(batch["tokens"], batch["lengths"]).softmax(-1) for m in model.members]))
        labels.append(batch["labels"])
    return torch.cat(probs, 1), torch.cat(labels)


def mixtures(path: str) -> dict[str, list[float]]:
    parts = load(path, splits=("valid", "test"))
    scored = {split: member_probabilities(parts, split) for split in ("valid", "test")}
    recurrent = scored["valid"][0].shape[0] - 1
    table = {}
    for k in range(1, recurrent + 1):
        for w in WEIGHTS:
            table[f"{k}:{w}"] = [
                round(100 * (((1 - w) * p[:k].mean(0) + w * p[-1]).argmax(-1) == y).float().mean().item(), 2)
                for p, y in scored.values()
            ]
    return table


if __name__ == "__main__":
    torch.set_num_threads(1)
    for checkpoint in sys.argv[1:]:
        print(json.dumps({checkpoint: mixtures(checkpoint)}), flush=True)
