"""Analysis (not a test): what a fifth, NBSVM-style member would add to a trained MR ensemble.

    python benchmarks/ensemble_nblr.py 1e-4,3e-4 runs/sentiment/gru_polarity/*/best.ckpt > nblr.jsonl

For each checkpoint of an ensemble whose last member is the n-gram member (``model.ngrams``), fits Wang &
Manning's NBSVM with a logistic loss in that member's own feature space (its n-gram rows, counted): logistic
regression on the counts scaled by naive Bayes's log-count ratios (one class against the rest, add-one
smoothing), L2 penalty as given, L-BFGS to convergence on the training split. Prints one JSON line per
checkpoint: the fit's seconds, the number of features seen in training, and for validation and test the
accuracy of the recipe's own mixture, of the fitted model alone, of the recipe plus it at an equal share
(``equal``) or at a third (``0.33``), and of the recipe with it in place of the trained n-gram member
(``for ng``). docs/results.md (MR) reports what it found.
"""

from __future__ import annotations

import json
import sys
import time

import torch
from ensemble_mixtures import member_probabilities

from seqkit.run.checkpoint import load


def design(member, parts, split: str, seen: torch.Tensor | None = None):
    """``(X, labels, seen)``: the split's texts as counts over the training split's n-gram rows (CSR)."""
    rows, cols, labels, offset = [], [], [], 0
    for batch in parts.data.loader(split):
        ids, inside = member.features(batch["tokens"], batch["lengths"])
        texts = torch.arange(offset, offset + ids.shape[0]).unsqueeze(1).expand_as(ids)
        rows.append(texts[inside])
        cols.append(ids[inside])
        labels.append(batch["labels"])
        offset += ids.shape[0]
    rows, cols, labels = torch.cat(rows), torch.cat(cols), torch.cat(labels)
    seen = torch.unique(cols) if seen is None else seen
    index = torch.full((member.weight.num_embeddings,), -1, dtype=torch.long)
    index[seen] = torch.arange(len(seen))
    keep = index[cols] >= 0
    where = torch.stack([rows[keep], index[cols[keep]]])
    counts = torch.sparse_coo_tensor(where, torch.ones(where.shape[1]), (offset, len(seen))).coalesce()
    return counts.to_sparse_csr(), labels, seen


def fit(x: torch.Tensor, labels: torch.Tensor, classes: int, l2: float, alpha: float = 1.0):
    """``(weights (F, C), bias (C,))`` of logistic regression on naive-Bayes-scaled counts."""
    coo = x.to_sparse_coo()
    counts = torch.zeros(classes, x.shape[1])
    counts.index_put_((labels[coo.indices()[0]], coo.indices()[1]), coo.values(), accumulate=True)
    own = counts + alpha
    rest = own.sum(0, keepdim=True) - own + alpha
    ratio = (own.log() - own.sum(1, keepdim=True).log() - rest.log() + rest.sum(1, keepdim=True).log()).t()
    w = torch.zeros_like(ratio, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe", tolerance_grad=1e-6)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = torch.sparse.mm(x, w * ratio) + b
        loss = torch.nn.functional.cross_entropy(logits, labels) + l2 * (w * w).sum()
        loss.backward()
        w.grad = w.grad.contiguous()  # L-BFGS views the gradient flat
        return loss

    optimizer.step(closure)
    return (w * ratio).detach(), b.detach()


def report(path: str, penalties: list[float]) -> dict:
    parts = load(path, splits=("train", "valid", "test"))
    member = parts.module.model.members[-1]
    start = time.perf_counter()
    x, labels, seen = design(member, parts, "train")
    fits = {l2: fit(x, labels, member.bias.shape[0], l2) for l2 in penalties}
    out: dict = {"fit_s": round((time.perf_counter() - start) / len(penalties), 2), "features": len(seen)}
    for split in ("valid", "test"):
        x, labels, _ = design(member, parts, split, seen)
        probabilities, expected = member_probabilities(parts, split)
        if not torch.equal(labels, expected):
            raise SystemExit(f"{path}: the {split} split came out in another order")
        recurrent, ngrams, k = probabilities[:-1].mean(0), probabilities[-1], probabilities.shape[0] - 1
        recipe = (k * recurrent + ngrams) / (k + 1)

        def accuracy(p: torch.Tensor, labels: torch.Tensor = labels) -> float:
            return round(100 * (p.argmax(-1) == labels).float().mean().item(), 2)

        row = {"recipe": accuracy(recipe)}
        for l2, (weights, bias) in fits.items():
            fitted = (torch.sparse.mm(x, weights) + bias).softmax(-1)
            row[f"nblr {l2}"] = accuracy(fitted)
            row[f"recipe + nblr {l2} equal"] = accuracy((k * recurrent + ngrams + fitted) / (k + 2))
            row[f"recipe + nblr {l2} 0.33"] = accuracy(0.67 * recipe + 0.33 * fitted)
            row[f"nblr {l2} for ng"] = accuracy((k * recurrent + fitted) / (k + 1))
        out[split] = row
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    penalties = [float(v) for v in sys.argv[1].split(",")]
    for checkpoint in sys.argv[2:]:
        print(json.dumps({checkpoint: report(checkpoint, penalties)}), flush=True)
