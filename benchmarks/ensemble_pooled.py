"""Analysis (not a test): what a sentiment ensemble with twice the recurrent members would have scored.

    python benchmarks/ensemble_pooled.py runA/best.ckpt,runB/best.ckpt ... > pooled.jsonl

Each argument pairs two checkpoints trained on the same split (same ``data.split.seed``; other run seeds or
recipes), each an ensemble whose last member is the n-gram member (``model.ngrams``). Their recurrent members
are pooled, as a recipe with ``model.ensemble`` doubled would hold them, and mixed with the first checkpoint's
n-gram member. Prints one JSON line per pair: ``{pair: {split: {mixture: accuracy %}}}`` for validation and
test. docs/results.md (MR) reports what it found.
"""

from __future__ import annotations

import json
import sys

import torch
from ensemble_mixtures import member_probabilities

from seqkit.run.checkpoint import load


def accuracy(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    return round(100 * (probabilities.argmax(-1) == labels).float().mean().item(), 2)


def pooled(first: str, second: str) -> dict[str, dict[str, float]]:
    runs = [load(path, splits=("valid", "test")) for path in (first, second)]
    table = {}
    for split in ("valid", "test"):
        (a, labels), (b, others) = (member_probabilities(parts, split) for parts in runs)
        if not torch.equal(labels, others):
            raise SystemExit(f"{first} and {second} were not trained on the same split")
        ngrams = a[-1]
        recurrent, doubled = a[:-1], torch.cat([a[:-1], b[:-1]])
        table[split] = {
            "recipe (its members, equal weights)": accuracy(torch.cat([recurrent, ngrams[None]]).mean(0), labels),
            "twice the recurrent members, equal weights": accuracy(torch.cat([doubled, ngrams[None]]).mean(0), labels),
            "twice the recurrent members, n-grams at the recipe's share": accuracy(
                (1 - 1 / a.shape[0]) * doubled.mean(0) + ngrams / a.shape[0], labels
            ),
            "twice the recurrent members alone": accuracy(doubled.mean(0), labels),
        }
    return table


if __name__ == "__main__":
    torch.set_num_threads(1)
    for pair in sys.argv[1:]:
        first, second = pair.split(",")
        print(json.dumps({pair: pooled(first, second)}), flush=True)
