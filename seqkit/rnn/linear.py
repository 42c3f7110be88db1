"""``seqkit.linear``: ``F.linear`` with its GEMMs, forward and backward, through oneDNN on CPU float32.

A cell's ``project`` multiplies the whole sequence by its input weight: at the usual shape (32 × 100 rows of
128 into 1024) this and its two gradient GEMMs are a quarter of an LSTM layer's time through the ``generic``
kernel. torch sends them to MKL, whose ``addmm`` also first copies the bias into every output row; on the AMD
EPYC CI draws, oneDNN (which adds the bias inside the kernel) takes 10.3 against 13.9 ms forward, and 10.0 and
12.6 against 17.0 and 16.8 ms for the two gradients (``benchmarks/gemm_throughput.py``,
``benchmarks/gemm-epyc-onednn-2026-12-03.json``). Anywhere the oneDNN path would be wrong or unseen, this is
``F.linear`` itself: off the CPU, other dtypes, tensor subclasses and fake tensors, GEMMs too small to gain
(:data:`seqkit.rnn.packedgemm.MIN_WORK`), under autocast, forward-mode AD, tracing or compiling (which should
see ``F.linear``), with ``torch.backends.mkldnn`` off or ``SEQKIT_GENERIC_GEMM=aten``. The backward is built
from ``linear`` again, so it has a gradient of its own (a gradient penalty works). Results match ``F.linear``
to rounding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from seqkit.rnn import packedgemm
from seqkit.rnn.fused import unfused_reason

_PLAIN = (Tensor, torch.nn.Parameter)  # not a subclass: a fake tensor, a DTensor, ... get F.linear


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x Wᵀ + b`` over the last dimension of *x*, as ``torch.nn.functional.linear``."""
    packedgemm.choice()  # a bad SEQKIT_GENERIC_GEMM is an error whichever path this call takes
    if not _onednn(x, weight, bias):
        return F.linear(x, weight, bias)
    return _Linear.apply(x, weight, bias)


def _onednn(x: Any, weight: Any, bias: Any) -> bool:
    tensors = (x, weight) if bias is None else (x, weight, bias)
    if not all(type(t) in _PLAIN and t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors):
        return False
    if x.dim() < 1 or weight.dim() != 2 or 0 in x.shape or 0 in weight.shape or x.shape[-1] != weight.shape[1]:
        return False  # F.linear's result, or its error message
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        return False  # a bias F.linear broadcasts (one element), or its error message
    if not packedgemm.big_enough(x.numel() // x.shape[-1], *weight.shape):  # a decoder's step: MKL's is as fast
        return False
    if torch.compiler.is_compiling() or unfused_reason(*tensors) is not None:
        return False  # F.linear: what torch.compile fuses, jit.trace records, autocast and torch.func transform
    return packedgemm.wanted()


def _rows(x: Tensor) -> Tensor:
    return x.reshape(-1, x.shape[-1])


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        # only what the wanted gradients read, as F.linear: a frozen weight's layer keeps no input alive (and does not
        # mind it being changed in place after the call)
        wants_x, wants_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(x if wants_weight else None, weight if wants_x else None)
        ctx.has_bias, ctx.x_shape = bias is not None, x.shape
        out = packedgemm.LINEAR(_rows(x), weight, None if bias is None else bias.contiguous(), "none", [], "")
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        rows = _rows(grad)
        g_x = g_w = g_b = None
        if ctx.needs_input_grad[0]:
            g_x = linear(rows, weight.t()).reshape(ctx.x_shape)
        if ctx.needs_input_grad[1]:  # Gᵀ X = (Xᵀ G)ᵀ, oneDNN's linear(Xᵀ, Gᵀ): faster than mm(Gᵀ, X) (module docstring)
            g_w = linear(_rows(x).t(), rows.t()).t()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            g_b = rows.sum(0)
        return g_x, g_w, g_b
