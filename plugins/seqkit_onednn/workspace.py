"""Reused workspace buffers: what oneDNN's forward leaves for its backward, tens of MB per layer and direction.

Fresh memory of that size comes from the OS at every call, and faulting its pages in costs about as much as
the forward pass itself on a small CPU; a buffer handed back when its autograd node dies is reused instead.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict

import torch
from torch import Tensor

# Free buffers kept per size; more than this many at once are left to the allocator.
KEEP = 8
# All free buffers together stay under this many bytes (the least recently returned sizes go first):
# batches of many different lengths would otherwise each leave their own buffers behind.
POOL_BYTES = int(float(os.environ.get("SEQKIT_ONEDNN_POOL_MB", "512")) * 2**20)

_free: OrderedDict[int, list[Tensor]] = OrderedDict()
_pooled = 0  # bytes held in _free
_lock = threading.Lock()


def bucket(size: int) -> int:
    """*size* rounded up to one of eight steps per power of two, so that nearby lengths share buffers
    (at most 12.5 % more memory than asked)."""
    if size <= 4096:
        return 4096
    step = (1 << (size.bit_length() - 1)) // 8  # an eighth of the power of two at or below size
    return -(-size // step) * step


class Lease:
    """One buffer of at least *size* bytes, returned to the pool when the lease is dropped.

    Held by the autograd node (not saved as a tensor), so the buffer outlives a ``retain_graph`` backward and
    goes back only when the graph itself is freed, after which nothing can read it again.
    """

    def __init__(self, size: int) -> None:
        global _pooled
        self.size = bucket(size)
        with _lock:
            free = _free.get(self.size)
            self.buffer = free.pop() if free else None
            if self.buffer is not None:
                _pooled -= self.size
        if self.buffer is None:
            self.buffer = torch.empty(self.size, dtype=torch.uint8)

    def __del__(self) -> None:
        buffer = getattr(self, "buffer", None)
        if buffer is None:
            return
        self.buffer = None
        # a garbage collection while the pool is locked (anything here allocates) may drop another lease: that
        # one must not wait for the lock its own thread holds, and another thread's lease need not wait either:
        # either buffer then goes back to the allocator instead of the pool
        if not _lock.acquire(blocking=False):
            return
        try:
            self._pool(buffer)
        finally:
            _lock.release()

    def _pool(self, buffer: Tensor) -> None:
        """Keep *buffer* for the next lease of its size (the pool is locked), within the pool's bounds."""
        global _pooled
        free = _free.setdefault(self.size, [])
        _free.move_to_end(self.size)
        if len(free) >= KEEP or self.size > POOL_BYTES:
            return
        free.append(buffer)
        _pooled += self.size
        while _pooled > POOL_BYTES:
            oldest, buffers = next(iter(_free.items()))
            if buffers:
                buffers.pop()
                _pooled -= oldest
            if not buffers:
                del _free[oldest]


def pooled_bytes() -> int:
    """Bytes held by free buffers now."""
    return _pooled


def clear() -> None:
    """Give every free buffer back to the allocator."""
    global _pooled
    with _lock:
        _free.clear()
        _pooled = 0


@functools.lru_cache(maxsize=256)
def size(batch: int, steps: int, inputs: int, hidden: int, dirs: int, reset_after: bool, bf16: bool) -> int:
    """Bytes of workspace a training forward of this shape needs (kept from forward to backward)."""
    from seqkit_onednn import build

    return build.extension().workspace_bytes(batch, steps, inputs, hidden, dirs, reset_after, bf16)
