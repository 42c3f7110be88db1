"""When the Triton GRU kernel can run (Triton; CUDA, or CPU in the interpreter), and when auto may pick it."""

from __future__ import annotations

import importlib.util
import os

import torch

from seqkit import Cell

# The step holds a whole row of h (HP = H rounded up to a power of two) in registers; past this it would
# need a K-blocked matmul, which is not written yet.
MAX_HIDDEN = 1024
GPU_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
# numpy, which runs the interpreter's tl.dot, has no bfloat16
INTERPRETER_DTYPES = (torch.float32, torch.float16)
NEEDS_GPU = "needs a CUDA device; set TRITON_INTERPRET=1 to run it on CPU in Triton's interpreter (slow, for tests)"


def interpreting() -> bool:
    """Whether ``TRITON_INTERPRET`` asks for Triton's interpreter (read as Triton reads it)."""
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "yes", "on", "y")


def _names(dtypes: tuple[torch.dtype, ...]) -> str:
    return "/".join(str(d).removeprefix("torch.") for d in dtypes)


def supports(cell: Cell, device: torch.device | None, dtype: torch.dtype | None) -> str | None:
    """``KernelSpec.supports``: both GRU formulations, with or without bias, up to :data:`MAX_HIDDEN` units."""
    if importlib.util.find_spec("triton") is None:
        return "Triton is not installed (pip install 'seqkit[triton]')"
    if cell.hidden_size > MAX_HIDDEN:
        return f"runs hidden_size up to {MAX_HIDDEN}, the layer has {cell.hidden_size}"
    if device is None:
        return None if torch.cuda.is_available() or interpreting() else NEEDS_GPU
    if device.type == "cuda":
        dtypes = GPU_DTYPES
    elif device.type == "cpu":
        if not interpreting():
            return NEEDS_GPU
        dtypes = INTERPRETER_DTYPES
    else:
        return f"runs on CUDA (or CPU in Triton's interpreter), the layer is on {device.type}"
    if dtype is not None and dtype not in dtypes:
        return f"computes {_names(dtypes)} on {device.type}, got {str(dtype).removeprefix('torch.')}"
    return None


def auto_skip(cell: Cell, device: torch.device | None, dtype: torch.dtype | None) -> str | None:
    """``KernelSpec.auto_skip``: never auto's choice on CPU, where only the interpreter runs it.

    On CUDA the persistent kernel's ``auto_rule`` (auto_rule.py) decides, from GPU measurements, where it
    replaces cuDNN; the per-step kernel (priority 80, below cuDNN) is never chosen over it.
    """
    if device is not None and device.type == "cpu":
        return "on CPU it runs only in Triton's interpreter, for tests: pass backend='triton' to use it"
    return None
