"""Reused workspace buffers: what oneDNN's forward leaves for its backward, tens of MB per layer and direction.

Fresh memory of that size comes from the OS at every call, and faulting its pages in costs about as much as
the forward pass itself on a small CPU; a buffer handed back when its autograd node dies is reused instead.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import torch
from torch import Tensor

# Free buffers kept per size; more than this many at once are left to the allocator.
KEEP = 8

_free: defaultdict[int, list[Tensor]] = defaultdict(list)
_lock = threading.Lock()


class Lease:
    """One buffer of at least *size* bytes, returned to the pool when the lease is dropped.

    Held by the autograd node (not saved as a tensor), so the buffer outlives a ``retain_graph`` backward and
    goes back only when the graph itself is freed, after which nothing can read it again.
    """

    def __init__(self, size: int) -> None:
        with _lock:
            free = _free[size]
            self.buffer = free.pop() if free else None
        if self.buffer is None:
            self.buffer = torch.empty(max(size, 1), dtype=torch.uint8)
        self.size = size

    def __del__(self) -> None:
        buffer = getattr(self, "buffer", None)
        if buffer is None:
            return
        with _lock:
            free = _free[self.size]
            if len(free) < KEEP:
                free.append(buffer)
        self.buffer = None


def clear() -> None:
    """Give every free buffer back to the allocator."""
    with _lock:
        _free.clear()
