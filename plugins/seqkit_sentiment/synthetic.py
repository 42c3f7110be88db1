"""``synthetic_sentiment``: generated reviews whose label depends on word order, so bag-of-words fails."""

from __future__ import annotations

import random
from typing import Annotated

from seqkit import Range, Record

# a generated data set is built in memory: beyond this it is a recipe's (or a tampered checkpoint's) mistake
Size = Annotated[int, Range(1, 1_000_000)]
Share = Annotated[float, Range(0, 1)]  # a fraction of the reviews: 0 and 1 both make a (one-sided) data set

POSITIVE = ("good", "great", "fun", "moving", "clever", "charming", "gripping", "funny", "beautiful", "smart")
NEGATIVE = ("bad", "dull", "boring", "awful", "weak", "bland", "messy", "tedious", "silly", "flat")
SUBJECTS = ("the movie", "the plot", "the acting", "the script", "the ending", "the cast", "the story", "the music")
VERBS = ("was", "is", "felt", "seemed")
INTENSIFIERS = ("", "", "really", "very", "quite", "truly")


def synthetic_sentiment(*, size: Size = 4000, contrast: Share = 0.5, seed: int = 0) -> list[Record]:
    """*size* reviews such as "the plot was not bad" or "the cast is great but the ending felt boring".

    A clause's polarity is its adjective's, flipped by "not"; a review's label is its last clause's
    ("X but Y" means Y). Adjective polarity and negation are drawn independently and uniformly, so
    every word occurs equally often in positive and negative reviews: only order carries the label.
    ``contrast`` is the share of two-clause reviews. Deterministic for a given *seed*; needs no files.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if not 0 <= contrast <= 1:
        raise ValueError(f"contrast must be in [0, 1], got {contrast}")
    rng = random.Random(seed)
    records = []
    for _ in range(size):
        clauses = [_clause(rng) for _ in range(2 if rng.random() < contrast else 1)]
        text = " but ".join(words for words, _ in clauses)
        records.append({"text": text, "label": "positive" if clauses[-1][1] else "negative"})
    return records


def _clause(rng: random.Random) -> tuple[str, bool]:
    positive = rng.random() < 0.5
    negated = rng.random() < 0.5
    adjective = rng.choice(POSITIVE if positive else NEGATIVE)
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), "not" if negated else "", rng.choice(INTENSIFIERS), adjective]
    return " ".join(w for w in words if w), positive != negated
