"""``synthetic_pairs``: random symbol sequences and their copy or reversal, to check a model can learn at all."""

from __future__ import annotations

import random
from typing import Annotated, Literal

from seqkit import Range, Record

# a generated data set is built in memory: beyond this it is a recipe's (or a tampered checkpoint's) mistake
Size = Annotated[int, Range(1, 1_000_000)]


def synthetic_pairs(
    *,
    mode: Literal["copy", "reverse"] = "copy",
    size: Size = 2000,
    symbols: int = 10,
    min_length: int = 3,
    max_length: int = 8,
    seed: int = 0,
) -> list[Record]:
    """*size* ``{"source", "target"}`` pairs: words ``w0 … w{symbols-1}``, the target the source (``copy``) or
    the source reversed (``reverse``). Deterministic for a given *seed*; needs no files."""
    if mode not in ("copy", "reverse"):
        raise ValueError(f"mode must be copy or reverse, got {mode!r}")
    if size < 1 or symbols < 1 or not 1 <= min_length <= max_length:
        raise ValueError("need size >= 1, symbols >= 1 and 1 <= min_length <= max_length")
    rng = random.Random(seed)
    records = []
    for _ in range(size):
        words = [f"w{rng.randrange(symbols)}" for _ in range(rng.randint(min_length, max_length))]
        target = words if mode == "copy" else words[::-1]
        records.append({"source": " ".join(words), "target": " ".join(target)})
    return records
