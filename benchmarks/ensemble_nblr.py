"""Analysis (not a test): what a fifth, NBSVM-style member would add to a trained MR ensemble.

    python benchmarks/ensemble_nblr.py 1e-4,3e-4 runs/sentiment/gru_polarity/*/best.ckpt > nblr.jsonl

For each checkpoint of an ensemble whose last member is the n-gram member (``model.ngrams``), fits a copy of
that member as the recipe's ``model.nbsvm`` does (``seqkit_sentiment.nbsvm.nbsvm_fit``: Wang & Manning's NBSVM
with a logistic loss, L2 penalty as given, to convergence on the training split). Prints one JSON line per
checkpoint: the fit's seconds, and for validation and test the accuracy of the recipe's own mixture, of the
fitted model alone, of the recipe plus it at an equal share (``equal``) or at a third (``0.33``), and of the
recipe with it in place of the trained n-gram member (``for ng``). docs/results.md (MR) reports what it found.
"""

from __future__ import annotations

import copy
import json
import sys
import time

import torch
from ensemble_mixtures import member_probabilities
from seqkit_sentiment.nbsvm import nbsvm_fit

from seqkit.run.checkpoint import load


def examples(parts, split: str) -> list[tuple[list[int], int]]:
    """The split's texts as ``(token ids, label)``, as the task encodes them for ``model.nbsvm``."""
    found = []
    for batch in parts.data.loader(split):
        for ids, length, label in zip(batch["tokens"], batch["lengths"], batch["labels"]):
            found.append((ids[: int(length)].tolist(), int(label)))
    return found


def fitted_probabilities(fitted, parts, split: str) -> torch.Tensor:
    """``(N, C)``: the fitted member's probabilities over one split, in the loader's order."""
    fitted.eval()
    return torch.cat([fitted(b["tokens"], b["lengths"]).softmax(-1) for b in parts.data.loader(split)])


def report(path: str, penalties: list[float]) -> dict:
    parts = load(path, splits=("train", "valid", "test"))
    member = parts.module.model.members[-1]
    train = examples(parts, "train")
    start = time.perf_counter()
    fits = {}
    for l2 in penalties:  # the same fit the recipe's model.nbsvm runs, on a copy of the trained n-gram member
        fits[l2] = copy.deepcopy(member)
        nbsvm_fit(fits[l2], train, l2)
    out: dict = {"fit_s": round((time.perf_counter() - start) / len(penalties), 2)}
    for split in ("valid", "test"):
        probabilities, labels = member_probabilities(parts, split)
        recurrent, ngrams, k = probabilities[:-1].mean(0), probabilities[-1], probabilities.shape[0] - 1
        recipe = (k * recurrent + ngrams) / (k + 1)

        def accuracy(p: torch.Tensor, labels: torch.Tensor = labels) -> float:
            return round(100 * (p.argmax(-1) == labels).float().mean().item(), 2)

        row = {"recipe": accuracy(recipe)}
        for l2, fitted in fits.items():
            nbsvm = fitted_probabilities(fitted, parts, split)
            row[f"nblr {l2}"] = accuracy(nbsvm)
            row[f"recipe + nblr {l2} equal"] = accuracy((k * recurrent + ngrams + nbsvm) / (k + 2))
            row[f"recipe + nblr {l2} 0.33"] = accuracy(0.67 * recipe + 0.33 * nbsvm)
            row[f"nblr {l2} for ng"] = accuracy((k * recurrent + nbsvm) / (k + 1))
        out[split] = row
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    penalties = [float(v) for v in sys.argv[1].split(",")]
    for checkpoint in sys.argv[2:]:
        print(json.dumps({checkpoint: report(checkpoint, penalties)}), flush=True)
