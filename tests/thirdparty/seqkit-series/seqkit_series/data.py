"""Data sources of numeric series with missing values: records ``{"values": [float or None, ...], "label": str}``."""

from __future__ import annotations

import math
import random

import seqkit


def synthetic_series(
    size: int = 400, min_length: int = 6, max_length: int = 20, missing: float = 0.25, seed: int = 0
) -> list[seqkit.Record]:
    """*size* noisy series that rise or fall, with a fraction *missing* of the values left out (None)."""
    if not 0 <= missing < 1:
        raise ValueError(f"missing must lie in [0, 1), got {missing}")
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length} and {max_length}")
    rng = random.Random(seed)
    records = []
    for _ in range(size):
        label = rng.choice(["down", "up"])
        slope = (1 if label == "up" else -1) * rng.uniform(0.2, 0.6)
        start = rng.uniform(-1, 1)
        values = [start + slope * t + rng.gauss(0, 0.3) for t in range(rng.randint(min_length, max_length))]
        records.append({"values": [None if rng.random() < missing else round(v, 4) for v in values], "label": label})
    return records


def parse_values(text: str, where: str) -> list[float | None]:
    """``"1.5,,2, nan"`` -> ``[1.5, None, 2.0, None]``: empty, ``nan`` and ``NA`` are missing values."""
    values: list[float | None] = []
    for item in text.split(","):
        item = item.strip()
        if item.lower() in ("", "nan", "na"):
            values.append(None)
            continue
        try:
            number = float(item)
        except ValueError:
            raise ValueError(f"{where}: expected numbers separated by commas, got {item!r}") from None
        values.append(None if math.isnan(number) else number)
    return values


def series_file(path: str) -> list[seqkit.Record]:
    """``label<TAB>v1,v2,,v4`` lines (a blank value is missing); errors name the file and line."""
    records = []
    for line, text in seqkit.read_lines(seqkit.resolve_path(path)):
        label, sep, body = text.partition("\t")
        if not sep:
            raise seqkit.data_error(path, "expected label<TAB>values", line)
        try:
            records.append({"values": parse_values(body, f"{path}:{line}"), "label": label})
        except ValueError as error:
            raise seqkit.data_error(path, str(error).partition(": ")[2], line) from None
    return records
