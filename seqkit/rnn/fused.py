"""When a fused kernel must step aside: contexts in which torch has to see a call's operations one by one.

A fused kernel computes through raw data pointers (a C++ extension, a oneDNN primitive) or inside an autograd node
of its own. That is invisible or wrong where torch watches the operations themselves: ``torch.jit.trace`` records
only the allocations (the traced graph returns uninitialised memory), autocast changes dtypes per operation,
forward-mode AD and ``torch.func`` transforms need each operation's own rule. In these contexts a kernel runs its
plain path (the cell's step, ``F.linear``), which torch handles as it handles any module. ``torch.compile`` is not
among them: it runs a call it cannot trace as it is (a graph break); a kernel that would rather be traced checks
``torch.compiler.is_compiling()`` itself.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import forward_ad


def unfused_reason(*tensors: Tensor) -> str | None:
    """Why a fused kernel should not run a call on *tensors* (its inputs and weights) in the current context, or
    None where it may."""
    if torch.jit.is_tracing():
        return "torch.jit.trace is recording"
    if any(_autocast(device) for device in {t.device.type for t in tensors} or {"cpu"}):
        return "autocast is on"
    if forward_ad._current_level >= 0:  # torch's own test: a dual level is open (no public query exists)
        return "forward-mode AD is on"
    if any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors):
        return "a torch.func transform is applied"
    return None


def _autocast(device: str) -> bool:
    try:
        return torch.is_autocast_enabled(device)
    except RuntimeError:  # a device type autocast does not know (meta): never autocast
        return False
