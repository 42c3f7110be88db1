"""Lazy references: a registration may name its implementation as ``"package.module:attribute"``, imported on first use.

``seqkit plugins``, ``seqkit ls`` and ``seqkit --help`` read every plugin's registrations; if registering a cell
imported its class, they would import torch for nothing. A :class:`LazyRef` stands in for the callable until
it is first called (or inspected), then imports the module once and behaves as the callable itself.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from collections.abc import Iterator
from typing import Any

from seqkit.errors import PluginError, one_line

# ``package.module:attribute`` or ``package.module:Class.attribute``, as entry points are written
REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_reference(value: object) -> bool:
    """Whether *value* is a well-formed ``"module:attribute"`` string."""
    return isinstance(value, str) and REFERENCE.match(value) is not None


class LazyRef:
    """A callable named ``"module:attribute"``, imported the first time it is called or inspected.

    ``owner`` says who registered it (``cell 'gru' of plugin 'gru' (...)``): a reference that cannot be imported,
    or that names something not callable, is that plugin's :class:`seqkit.PluginError`.
    """

    __slots__ = ("_value", "owner", "target")

    def __init__(self, target: str, owner: str = "") -> None:
        self.target = target
        self.owner = owner
        self._value: Any = None

    def resolve(self) -> Any:
        """The callable itself, imported on the first call."""
        if self._value is None:
            self._value = _load(self.target, self.owner)
        return self._value

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    # inspect.signature follows __wrapped__, so option checks see the real callable's parameters
    @property
    def __wrapped__(self) -> Any:
        return self.resolve()

    def __getattr__(self, name: str) -> Any:  # __name__, __doc__, class attributes such as torch_type
        if name.startswith("__") and name not in ("__name__", "__qualname__", "__doc__", "__module__"):
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyRef) and other.target == self.target

    def __hash__(self) -> int:
        return hash(self.target)

    def __repr__(self) -> str:
        return f"<lazy {self.target}>"

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (e.g. to DataLoader workers) as the reference itself
        return (LazyRef, (self.target, self.owner))


def resolved(value: Any) -> Any:
    """*value*, or the callable it names when it is a :class:`LazyRef`."""
    return value.resolve() if isinstance(value, LazyRef) else value


def _load(target: str, owner: str) -> Any:
    module_name, _, path = target.partition(":")
    who = f"{owner}: " if owner else ""
    try:
        with _as_at_start():
            value: Any = importlib.import_module(module_name)
        for part in path.split("."):
            value = getattr(value, part)
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(f"{who}{target!r} could not be loaded: {type(exc).__name__}: {one_line(exc)}") from exc
    if not callable(value):
        raise PluginError(f"{who}{target!r} names {type(value).__name__} {value!r}, which is not callable")
    return value


@contextlib.contextmanager
def _as_at_start() -> Iterator[None]:
    """Import as seqkit did when plugins registered their classes at start-up: the first use may come inside
    ``torch.device("meta")`` (validation builds the model there) or ``inference_mode``, where a module's own
    tensors (a constant, an empty workspace) would be made on the meta device or as inference tensors."""
    torch = sys.modules.get("torch")
    if torch is None:  # nothing can have changed how tensors are made
        yield
        return
    with torch.device("cpu"), torch.inference_mode(False):
        yield
