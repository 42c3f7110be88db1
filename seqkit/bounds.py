"""Ranges a builder's signature may declare on a number it takes: checked with the recipe, before anything runs.

``embed_dim: seqkit.Width = 128`` in a task's ``build_model`` (or ``Annotated[float, seqkit.Range(0, 1,
high_open=True)]`` for a probability) makes ``seqkit validate`` refuse a value outside the range with the key
path, as it refuses a value of the wrong type: the core needs no list of any plugin's keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

# Beyond this a layer or embedding cannot be allocated on any machine seqkit runs on.
MAX_WIDTH = 1 << 16


@dataclass(frozen=True)
class Range:
    """Bounds on a number: ``low <= v <= high`` (``<`` with ``high_open``); None leaves a side open."""

    low: float | None = None
    high: float | None = None
    high_open: bool = False

    def holds(self, value: Any) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and value < self.low:
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return "at least 1" if self.low == 1 else f"{self.low:,} or more"
        low = "-inf" if self.low is None else f"{self.low:,}"
        return f"in [{low}, {self.high:,}{')' if self.high_open else ']'}"


# a width (embedding, hidden or feature size): at least 1, at most what any machine seqkit runs on can allocate
Width = Annotated[int, Range(1, MAX_WIDTH)]


def range_problem(value: Any, hint: Any) -> str | None:
    """Why *value* (already of *hint*'s type) is outside a :class:`Range` *hint* carries, or None."""
    for bound in getattr(hint, "__metadata__", ()):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(bound, Range) and number and not bound.holds(value):
            return f"expected {bound}, got {value!r}"
    return None
