"""Fit an n-gram member as NBSVM with a logistic loss (Wang & Manning 2012), once, on the training split (``nbsvm``).

Logistic regression on the n-gram counts scaled by naive Bayes's log-count ratios: an n-gram that the counts say
is evidence gets a large feature, so the L2 penalty lets its weight grow more easily than a rare or neutral one's.
On MR Wang & Manning report 79.4 % for it over unigrams and bigrams against 79.0 % for naive Bayes and 77.7 % for
the plain SVM. The problem is convex and small (one weight per seen n-gram and class), so L-BFGS fits it to
convergence in a second or two, and the member it fills is then held fixed: a few epochs of Adam on the same
texts would only move it towards overfitting them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from seqkit import pad_sequences
from seqkit_sentiment.ngrams import NgramClassifier

CHUNK = 1024  # texts read at a time: bounds the padded batch whatever the corpus's size
ITERATIONS = 300  # L-BFGS steps; MR converges in well under this


def design_matrix(member: NgramClassifier, examples: Sequence[tuple[list[int], int]]) -> tuple[Tensor, Tensor, Tensor]:
    """``(counts, labels, seen)``: each text's n-gram counts over the weight rows *member* gives its n-grams, as a
    sparse ``(texts, len(seen))`` matrix whose column ``j`` is row ``seen[j]``, and the texts' labels."""
    texts, rows, labels = [], [], []
    for start in range(0, len(examples), CHUNK):
        part = examples[start : start + CHUNK]
        tokens, lengths = pad_sequences([ids for ids, _ in part])
        ids, inside = member.features(tokens, lengths)
        which = torch.arange(start, start + len(part)).unsqueeze(1).expand_as(ids)
        texts.append(which[inside])
        rows.append(ids[inside])
        labels.append(torch.tensor([label for _, label in part], dtype=torch.long))
    text, row = torch.cat(texts), torch.cat(rows)
    seen, column = torch.unique(row, return_inverse=True)
    counts = torch.sparse_coo_tensor(
        torch.stack([text, column]),
        torch.ones(len(text), dtype=torch.float64),
        (len(examples), len(seen)),
        check_invariants=True,  # built here from indices in range: checking costs little, and torch asks to choose
    )
    return counts.coalesce(), torch.cat(labels), seen


def log_count_ratios(counts: Tensor, labels: Tensor, classes: int, alpha: float = 1.0) -> Tensor:
    """``(features, classes)``: for each class, ``log P(f | class) - log P(f | other classes)`` with add-*alpha*
    smoothing (with two classes, the second is the first's negative)."""
    index = counts.indices()
    own = torch.zeros(classes, counts.shape[1], dtype=torch.float64)
    own.index_put_((labels[index[0]], index[1]), counts.values(), accumulate=True)
    rest = own.sum(0, keepdim=True) - own + alpha
    own = own + alpha
    return (own.log() - own.sum(1, keepdim=True).log() - rest.log() + rest.sum(1, keepdim=True).log()).t()


def nbsvm_fit(member: NgramClassifier, examples: Sequence[tuple[list[int], int]], l2: float = 1e-4) -> None:
    """Set *member* to logistic regression on *examples*' naive-Bayes-scaled n-gram counts.

    Minimises the mean cross-entropy plus ``l2 * ||w||²`` over ``w`` (one per seen n-gram and class) and a bias,
    where a text's logits are ``Σ_f count_f · r_f ⊙ w_f + b``. The member's row of n-gram ``f`` becomes ``r_f ⊙
    w_f``; n-grams never seen in training keep weight 0. Fitted in float64: the optimum does not depend on the
    machine's summation order beyond rounding.
    """
    classes = member.bias.shape[0]
    counts, labels, seen = design_matrix(member, examples)
    if not len(seen):
        return
    ratios = log_count_ratios(counts, labels, classes)
    with warnings.catch_warnings():  # torch's note that CSR support is in beta: not the user's concern
        warnings.simplefilter("ignore", UserWarning)
        counts = counts.to_sparse_csr()
    w = torch.zeros_like(ratios, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=ITERATIONS, line_search_fn="strong_wolfe", tolerance_grad=1e-9)

    def objective() -> Tensor:
        optimizer.zero_grad()
        logits = torch.sparse.mm(counts, w * ratios) + b
        loss = F.cross_entropy(logits, labels) + l2 * w.pow(2).sum()
        loss.backward()
        w.grad = w.grad.contiguous()  # the sparse product's gradient may come strided; L-BFGS views it flat
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    weights = torch.zeros(member.weight.num_embeddings, classes, dtype=torch.float64)
    weights[seen] = (w * ratios).detach()
    with torch.no_grad():
        member.weight.weight.copy_((weights / member.rate).to(member.weight.weight.dtype))
        member.bias.copy_(b.detach().to(member.bias.dtype))
