"""Ranges a builder's signature may declare on a number it takes: checked with the recipe, before anything runs.

``embed_dim: seqkit.Width = 128`` in a task's ``build_model`` (or ``dropout: seqkit.Probability = 0.0``, or
``Annotated[float, seqkit.Range(0, low_open=True)]`` for a positive number) makes ``seqkit validate`` refuse a value
outside the range with the key path, as it refuses a value of the wrong type: the core needs no list of any plugin's
keys. NaN and infinities are outside every range.
"""

from __future__ import annotations

import collections.abc
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any

# Beyond this a layer or embedding cannot be allocated on any machine seqkit runs on.
MAX_WIDTH = 1 << 16


@dataclass(frozen=True)
class Range:
    """Bounds on a finite number: ``low <= v <= high`` (``<`` on a side marked open); None leaves a side unbounded."""

    low: float | None = None
    high: float | None = None
    high_open: bool = False
    low_open: bool = False

    def holds(self, value: Any) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            if self.low is None:
                return "a finite number"
            if self.low_open:
                return f"above {self.low:,}"
            return "at least 1" if self.low == 1 else f"{self.low:,} or more"
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{self.low:,}"
        return f"in {low}, {self.high:,}{')' if self.high_open else ']'}"


# a width (embedding, hidden or feature size): at least 1, at most what any machine seqkit runs on can allocate
Width = Annotated[int, Range(1, MAX_WIDTH)]
# a probability a module draws with (dropout, word dropout, label smoothing): at 1 nothing would be left to learn from
Probability = Annotated[float, Range(0, 1, high_open=True)]


def range_problem(value: Any, hint: Any) -> str | None:
    """Why *value* (already of *hint*'s type) is outside a :class:`Range` *hint* carries, or None.

    A bound counts wherever the hint puts it: on the number itself, on one choice of a union (``Probability |
    None``), or on the items of a list or tuple (``tuple[Probability, Probability]``: the item is named).
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        for bound in hint.__metadata__:
            if isinstance(bound, Range) and number and not bound.holds(value):
                # inf is "0 or more" in arithmetic: say what it is not; a bounded range already excludes it
                unbounded = bound.high is None and bound.low is not None and not math.isfinite(value)
                return f"expected {'a finite number, ' if unbounded else ''}{bound}, got {value!r}"
        return range_problem(value, args[0])
    if origin in (typing.Union, types.UnionType):
        # judged by the choices a value of its kind could be: None or a string passes a union's bounded number
        problems = [range_problem(value, choice) for choice in args if _same_kind(value, choice)]
        return None if not problems or None in problems else problems[0]
    if isinstance(value, list | tuple) and origin in (list, tuple, collections.abc.Sequence):
        fixed = origin is tuple and bool(args) and args[-1] is not Ellipsis
        hints = args if fixed else args[:1] * len(value)  # tuple[X, Y]: one hint per item; list[X]: X for every one
        for index, (item, item_hint) in enumerate(zip(value, hints)):
            problem = range_problem(item, item_hint)
            if problem:
                return f"item {index}: {problem}"
    return None


def _same_kind(value: Any, hint: Any) -> bool:
    """Whether *value* is a number and *hint* (bounds aside) one, or both are lists."""
    bare = typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint
    if isinstance(value, int | float) and not isinstance(value, bool):
        return bare in (int, float)
    sequences = (list, tuple, collections.abc.Sequence)
    return isinstance(value, list | tuple) and (typing.get_origin(bare) in sequences or bare in (list, tuple))
