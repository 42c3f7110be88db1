"""A bag-of-n-grams member for the sentiment ensemble: a linear classifier over a text's token n-grams.

On short texts a linear model over word bigrams is as strong as a recurrent network trained from scratch (on MR,
Wang & Manning 2012 report 77-79 % for such models, Kim 2014 76.1 % for a CNN from scratch), and its errors are
different ones, so averaging the two helps more than another recurrent member. Longer n-grams are hashed into a
fixed number of buckets, which bounds the table's size whatever the corpus.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqkit import valid_mask
from seqkit_sentiment.model import drop_words

_PRIME = 1_000_003  # mixes each token into the n-gram's hash; larger than any vocabulary it is likely to meet
MAX_BUCKETS = 1 << 26  # keeps hash * _PRIME + token inside int64
MAX_N = 8  # forward loops once per length: a recipe (or a checkpoint's) must not make that loop endless


class NgramClassifier(nn.Module):
    """``forward(tokens (B, T), lengths (B,)) -> logits (B, C)``: the sum of one weight vector per n-gram.

    Unigrams have a row each; n-grams of 2 to ``n`` tokens share ``buckets`` hashed rows. N-grams that reach
    into the padding are left out, so padding never affects the result. Weights start at zero, so the member
    begins undecided. During training each token becomes the unknown word with probability ``word_dropout``.
    """

    def __init__(
        self, vocab_size: int, num_classes: int, n: int, buckets: int, word_dropout: float = 0.0, rate: float = 1.0
    ) -> None:
        super().__init__()
        if isinstance(n, bool) or not 1 <= n <= MAX_N:
            raise ValueError(f"model.ngrams must lie in [1, {MAX_N}] tokens, got {n}")
        if rate <= 0:
            raise ValueError(f"model.ngram_rate must be positive, got {rate}")
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"model.ngram_buckets must lie in [1, {MAX_BUCKETS}], got {buckets}")
        self.n = n
        self.vocab_size = vocab_size
        self.buckets = buckets if n > 1 else 0
        self.word_dropout = word_dropout
        # Adam moves each stored weight by about the learning rate a step, whatever the gradient's size; a rare
        # n-gram gets few steps, so the weights are read times `rate` to let this member learn that much faster
        self.rate = rate
        self.weight = nn.Embedding(vocab_size + self.buckets, num_classes)
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def features(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``(rows (B, K), inside (B, K))``: the weight row of every n-gram of each text, unigrams first, and
        whether it lies wholly inside the text (n-grams reaching into the padding are ``False``)."""
        width = tokens.shape[1]
        valid = valid_mask(lengths.to(tokens.device), width)  # (B, T)
        rows, inside, hashed = [tokens], [valid], tokens
        for size in range(2, self.n + 1):  # n-grams longer than the batch's width come out empty
            # the n-gram starting at t: from the (size - 1)-gram starting at t and the token at t + size - 1
            hashed = (hashed[:, :-1] * _PRIME + tokens[:, size - 1 :]) % self.buckets
            rows.append(self.vocab_size + hashed)
            inside.append(valid[:, size - 1 :])  # the n-gram's last token is a real one
        return torch.cat(rows, 1), torch.cat(inside, 1)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        if self.training:
            tokens = drop_words(tokens, self.word_dropout)
        rows, inside = self.features(tokens, lengths)
        return (self.weight(rows) * inside.unsqueeze(-1)).sum(1) * self.rate + self.bias
