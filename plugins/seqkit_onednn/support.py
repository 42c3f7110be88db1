"""Whether the ``onednn`` kernel can run a layer here, and why not: device, dtype, CPU features, the build."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from seqkit import Cell
from seqkit_onednn import build

# Above ``native`` (50): measured faster than torch's fused CPU GRU for both formulations (docs/benchmarks.md).
PRIORITY = 60  # as registered in __init__.py


@cache
def cpu_flags() -> frozenset[str]:
    """This CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def bf16_reason() -> str | None:
    """oneDNN's bfloat16 RNNs need native bf16 instructions (AVX-512 BF16 or AMX); without them, why not."""
    flags = cpu_flags()
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return None
    return "bfloat16 needs a CPU with AVX-512 BF16 or AMX (this one has neither)"


def supports(cell: Cell, device: torch.device | None, dtype: torch.dtype | None) -> str | None:
    """``KernelSpec.supports``: None when oneDNN can run *cell* on *device*/*dtype*, else the reason.

    With device and dtype (a real run) the extension is built, once, so a build failure is a reason too.
    For the options alone only the cheap checks run: locating oneDNN and a compiler.
    """
    if device is not None and device.type != "cpu":
        return f"runs on CPU only, the layer is on {device.type}"
    if dtype is not None and dtype not in (torch.float32, torch.bfloat16):
        return f"oneDNN's RNN primitives compute float32 and bfloat16 only, got {dtype}"
    if dtype == torch.bfloat16 and (why := bf16_reason()) is not None:
        return why
    try:
        if device is None:
            build.locate()
            build.compiler()
        else:
            build.extension()
    except build.Unavailable as why:
        return str(why)
    return None
