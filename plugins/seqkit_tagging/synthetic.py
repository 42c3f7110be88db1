"""``synthetic_tagging``: generated sentences whose entities are new names each time, typed by the word before."""

from __future__ import annotations

import random
from typing import Annotated

from seqkit import Range, Record

# a generated data set is built in memory: beyond this it is a recipe's (or a tampered checkpoint's) mistake
Size = Annotated[int, Range(1, 1_000_000)]

FILLER = [
    "the",
    "a",
    "of",
    "and",
    "was",
    "said",
    "that",
    "on",
    "for",
    "with",
    "by",
    "from",
    "to",
    "it",
    "new",
    "old",
    "big",
    "small",
    "yesterday",
    "today",
]
TRIGGERS = {"in": "LOC", "near": "LOC", "mr": "PER", "mrs": "PER", "at": "ORG", "joined": "ORG"}
SYLLABLES = ["ba", "ko", "ri", "mu", "te", "sal", "ven", "dor", "pi", "lu", "gra", "fen", "ost", "mar", "ti", "ca"]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))).capitalize()


def synthetic_tagging(size: Size = 600, seed: int = 0, max_entities: int = 3) -> list[Record]:
    """*size* sentences of filler words and entities: a trigger word (``in``, ``mr``, ``at``, ...) decides the
    type of the one- or two-word capitalised name after it. Names are drawn afresh (most are never seen twice),
    so a tagger must read casing, characters and context, not memorise words; IOB2 tags. Offline, seeded."""
    if size < 1 or max_entities < 1:
        raise ValueError("size and max_entities must be at least 1")
    rng = random.Random(seed)
    records: list[Record] = []
    for _ in range(size):
        tokens: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(1, max_entities)):
            filler = rng.sample(FILLER, rng.randint(0, 3))
            tokens += filler
            tags += ["O"] * len(filler)
            trigger = rng.choice(sorted(TRIGGERS))
            names = [_name(rng) for _ in range(rng.randint(1, 2))]
            tokens += [trigger, *names]
            kind = TRIGGERS[trigger]
            tags += ["O", f"B-{kind}"] + [f"I-{kind}"] * (len(names) - 1)
        records.append({"tokens": tokens, "tags": tags})
    return records
