"""How a layer holds its kernels: bound when built, chosen per device, dtype and input size, kept through
``.to()`` and deep copies, and found again in the plugin manager when a pickled layer is loaded."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from seqkit.plugin.manager import get_plugin_manager
from seqkit.plugin.registry import KernelSpec, ShapeBucket
from seqkit.rnn import kernels
from seqkit.rnn.regularizers import Regularizers

# What ties a layer to its plugins' kernels: shared by deep copies, left out of pickles.
_KERNEL_STATE = ("_kernel_options", "_choices", "_last")


class KernelBound(nn.Module):
    """The kernel side of :class:`seqkit.Recurrent`, which gives it ``kind``, ``cell`` and ``requested_backend``."""

    def _bind_kernels(self, kernel_options: list[KernelSpec]) -> None:
        """Adopt the candidate kernels; check an explicit request now, or let auto choose for the parameters."""
        # kernels registered by name are imported now, not while torch.compile traces forward()
        self._kernel_options = [kernels.loaded(k) for k in kernel_options]
        self._choices: dict[tuple[torch.device, torch.dtype, ShapeBucket | None], kernels.Choice] = {}
        explicit = kernels.check_requested(self._kernel_options, self.requested_backend, self.cell)
        if explicit is not None:
            self._last = explicit
        else:
            first = next(iter(self.parameters()), None)
            self._choose(*((first.device, first.dtype) if first is not None else (torch.device("cpu"), torch.float32)))

    def _choose(self, device: torch.device, dtype: torch.dtype, shape: ShapeBucket | None = None) -> kernels.Choice:
        """The kernel for this device, dtype and input size, chosen once per size bucket (see ShapeBucket)."""
        if self.requested_backend != kernels.AUTO:
            shape = None  # an explicit kernel does not depend on the input's size: one entry per device and dtype
        key = (device, dtype, shape)
        choice = self._choices.get(key)
        if choice is None:
            choice = kernels.select(self._kernel_options, self.requested_backend, self.cell, device, dtype, shape)
            if torch.compiler.is_compiling():
                # torch.compile cannot replay a new cache entry or attribute made while tracing: choose, keep nothing
                return choice
            self._choices[key] = choice
        if not torch.compiler.is_compiling():
            self._last = choice
        return choice

    def _apply(self, fn: Any, recurse: bool = True) -> KernelBound:
        """After ``.to()``, ``.double()``, ``.cuda()``: refresh ``backend`` for the new device and dtype."""
        result = super()._apply(fn, recurse)
        first = next(iter(self.parameters()), None)
        if first is not None and self.requested_backend == kernels.AUTO:
            self._choose(first.device, first.dtype)
        return result

    def __deepcopy__(self, memo: dict[int, Any]) -> KernelBound:
        """A deep copy that keeps this layer's kernels (even those of a plugin manager of its own)."""
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            clone.__dict__[key] = (
                dict(value) if key == "_choices" else value if key in _KERNEL_STATE else copy.deepcopy(value, memo)
            )
        return clone

    # Kernels are functions a plugin provides and may not pickle; a pickled layer keeps its kind and
    # requested backend and finds its kernels again in the process-wide plugin manager when loaded.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for transient in _KERNEL_STATE:
            state.pop(transient, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("regularizers", Regularizers())  # layers pickled before regularisers existed
        super().__setstate__(state)
        self._bind_kernels(kernels.candidates(get_plugin_manager().kernels, self.kind))
