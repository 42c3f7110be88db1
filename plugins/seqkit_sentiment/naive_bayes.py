"""Start the n-gram member as a multinomial naive Bayes classifier fitted to the training split (``ngram_init``).

Counted once over the training texts, naive Bayes over word unigrams and bigrams is already a strong sentiment
classifier on short texts (Wang & Manning 2012: 77.9-79.0 % on MR over unigrams and bigrams), and gradient descent from
zero reaches it only slowly: most n-grams are rare and get few updates. Starting the member's weights at naive
Bayes's log-probabilities and training from there keeps what the counts know and lets the loss correct it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from seqkit import pad_sequences
from seqkit_sentiment.ngrams import NgramClassifier

CHUNK = 1024  # texts counted at a time: bounds the padded batch whatever the corpus's size


def count_ngrams(member: NgramClassifier, examples: Sequence[tuple[list[int], int]]) -> tuple[Tensor, Tensor]:
    """``(counts (C, rows), texts (C,))``: for each class, how often each weight row's n-gram occurs in its
    texts, and how many texts the class has. Occurrences, not texts: the member's forward counts them so too."""
    classes, rows = member.bias.shape[0], member.weight.num_embeddings
    counts = torch.zeros(classes * rows, dtype=torch.float64)
    texts = torch.zeros(classes, dtype=torch.float64)
    for start in range(0, len(examples), CHUNK):
        part = examples[start : start + CHUNK]
        tokens, lengths = pad_sequences([ids for ids, _ in part])
        labels = torch.tensor([label for _, label in part])
        ids, inside = member.features(tokens, lengths)
        class_of = labels.unsqueeze(1).expand_as(ids)
        counts += torch.bincount(class_of[inside] * rows + ids[inside], minlength=classes * rows).double()
        texts += torch.bincount(labels, minlength=classes).double()
    return counts.view(classes, rows), texts


def naive_bayes_init(member: NgramClassifier, examples: Sequence[tuple[list[int], int]], alpha: float = 1.0) -> None:
    """Set *member* to multinomial naive Bayes over *examples* (``(token ids, label index)`` pairs)
    with add-*alpha* smoothing: its softmax is then naive Bayes's posterior.

    The weight of n-gram ``f`` for class ``c`` is ``log P(f | c)`` over the n-grams seen in training, less its
    mean over the classes (which the softmax ignores, and which keeps the weights small); n-grams never seen in
    training keep weight 0, outside naive Bayes's vocabulary. The bias is the log prior, centred the same way.
    """
    counts, texts = count_ngrams(member, examples)
    seen = counts.sum(0) > 0
    smoothed = counts[:, seen] + alpha
    log_p = smoothed.log() - smoothed.sum(1, keepdim=True).log()
    weights = torch.zeros_like(counts)
    weights[:, seen] = log_p - log_p.mean(0, keepdim=True)
    prior = (texts + alpha).log()
    with torch.no_grad():
        member.weight.weight.copy_((weights.t() / member.rate).to(member.weight.weight.dtype))
        member.bias.copy_((prior - prior.mean()).to(member.bias.dtype))
