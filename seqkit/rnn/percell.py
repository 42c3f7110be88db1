"""What the generic kernel keeps per cell object (its traced split, a failed trace, its graphs), dropped with the cell.

Keyed by identity, not by ``hash(cell)``: a cell class may define ``__eq__`` (a dataclass does), which makes it
unhashable, and two equal cells are still two objects. Each value is stored with the cell's attributes as they
were, so a cell whose attributes changed since (``cell.scale = 3``, or ``MyCell.scale = 3`` for every instance) is
traced again, not served a stale value.
"""

from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

V = TypeVar("V")
_MISSING: Any = object()


def attributes(cell: object) -> tuple[Any, ...]:
    """*cell*'s type and attributes, its own and its classes', as a key compared with ``==``: plain values
    (numbers, strings, tuples of them) as they are, anything else (a list, a tensor, a method) by identity, so
    replacing one changes the key (changing one in place does not)."""
    # the classes' namespaces as they are (compared by :func:`_same`): turning their dozens of entries into plain
    # values on every call would cost more than the lookup saves
    classes = tuple(tuple(vars(klass).items()) for klass in type(cell).__mro__[:-1])
    return (type(cell), tuple((name, _plain(value)) for name, value in sorted(vars(cell).items())), classes)


def _same(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    """Whether two keys of :func:`attributes` are equal; a class attribute whose ``==`` is not a truth value (a
    tensor replaced by another) counts as changed."""
    try:
        return bool(old == new)
    except Exception:
        return False


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return value
    if type(value) is tuple:
        return tuple(_plain(v) for v in value)
    return ("object", id(value))


class PerCell(Generic[V]):
    """A value per cell object, for the cell's current attributes."""

    def __init__(self) -> None:
        self._values: dict[int, tuple[weakref.ref[Any], tuple[Any, ...], V]] = {}

    def get(self, cell: object, default: V | None = None) -> V | None:
        entry = self._values.get(id(cell))
        if entry is None or entry[0]() is not cell or not _same(entry[1], attributes(cell)):
            return default
        return entry[2]

    def __contains__(self, cell: object) -> bool:
        return self.get(cell, _MISSING) is not _MISSING

    def set(self, cell: object, value: V) -> V:
        key = id(cell)
        try:
            ref = weakref.ref(cell, lambda _, values=self._values, key=key: values.pop(key, None))
        except TypeError:  # a cell without weak references: nothing kept, the value is made again next time
            return value
        self._values[key] = (ref, attributes(cell), value)
        return value

    def setdefault(self, cell: object, value: V) -> V:
        found = self.get(cell, _MISSING)
        return self.set(cell, value) if found is _MISSING else found
