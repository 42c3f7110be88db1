"""The GRU layer as ``torch.library`` custom ops with an autograd formula: one graph node for torch.compile."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqkit_triton import grads, launch


def _steps(lengths: Tensor | None, steps: int) -> int:
    # steps past the longest sequence change nothing: skip them (one host sync, once per layer)
    return steps if lengths is None else int(lengths.max())


def _lens(lengths: Tensor | None, batch: int, steps: int, device: torch.device) -> Tensor:
    if lengths is None:
        return torch.full((batch,), steps, device=device, dtype=torch.int32)
    return lengths.to(device=device, dtype=torch.int32)


@torch.library.custom_op("seqkit_triton::gru", mutates_args=())
def gru(
    x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None, h0: Tensor,
    lengths: Tensor | None, reset_after: bool, persistent: bool, store: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """One direction of a GRU layer: ``x`` ``(B, T, I)``, ``h0`` ``(B, H)`` -> ``y`` ``(B, T, H)``, ``hT`` ``(B, H)``,
    and what backward reads: ``hs`` ``(T+1, B, H)`` and ``gates`` (empty unless *store*; else recomputed)."""
    B, T = x.shape[0], x.shape[1]
    u = F.linear(x, w_ih, b_ih).contiguous()  # one GEMM for every step's input projection
    steps = _steps(lengths, T)
    w_hh, b_hh = w_hh.contiguous(), None if b_hh is None else b_hh.contiguous()  # the kernels index row-major
    y, hs, gates, _ = launch.forward(
        u, w_hh, b_hh, h0, _lens(lengths, B, T, x.device), steps, reset_after, persistent, store
    )
    return y, hs[T].to(x.dtype, copy=True), hs, gates


@gru.register_fake
def _(x, w_ih, w_hh, b_ih, b_hh, h0, lengths, reset_after, persistent, store):
    B, T, H = x.shape[0], x.shape[1], w_hh.shape[1]
    f32 = dict(device=x.device, dtype=torch.float32)
    gates = x.new_empty((T, B, 4 * H) if store else (0,), dtype=torch.float32)
    return x.new_empty(B, T, H), x.new_empty(B, H), torch.empty(T + 1, B, H, **f32), gates


@torch.library.custom_op("seqkit_triton::gru_backward", mutates_args=())
def gru_backward(
    dy: Tensor, dhT: Tensor, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None,
    lengths: Tensor | None, hs: Tensor, gates: Tensor, reset_after: bool, persistent: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:  # fmt: skip
    """Gradients of :func:`gru`: ``dx``, ``dW_ih``, ``dW_hh``, ``db_ih``, ``db_hh`` (empty without bias), ``dh0``."""
    B, T = x.shape[0], x.shape[1]
    steps = _steps(lengths, T)
    if gates.numel() == 0:
        u = F.linear(x[:, :steps], w_ih, b_ih).float().transpose(0, 1)
        gates = grads.recompute_gates(u, hs, w_hh, b_hh, reset_after)
    lens = _lens(lengths, B, T, x.device)
    dA, dh0 = launch.backward(dy, dhT, hs, gates, lens, w_hh.contiguous(), steps, reset_after, persistent)
    dx, dw_ih, dw_hh, db_ih, db_hh = grads.parameter_grads(dA, hs, gates, x, w_ih, reset_after, b_ih is not None)

    def cast(grad: Tensor | None, like: Tensor) -> Tensor:
        # an op's outputs may not alias one another: each missing bias gets its own empty tensor
        return x.new_empty(0) if grad is None else grad.to(like.dtype)

    return dx, cast(dw_ih, w_ih), cast(dw_hh, w_hh), cast(db_ih, w_ih), cast(db_hh, w_hh), dh0.to(x.dtype)


@gru_backward.register_fake
def _(dy, dhT, x, w_ih, w_hh, b_ih, b_hh, lengths, hs, gates, reset_after, persistent):
    def like(t):
        return x.new_empty(0) if t is None else torch.empty_like(t)

    return (
        torch.empty_like(x),
        torch.empty_like(w_ih),
        torch.empty_like(w_hh),
        like(b_ih),
        like(b_hh),
        torch.empty_like(dhT),
    )


def _setup_context(ctx, inputs, output):
    x, w_ih, w_hh, b_ih, b_hh, _, lengths, reset_after, persistent, _ = inputs
    _, _, hs, gates = output
    ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, lengths, hs, gates)
    ctx.flags = (reset_after, persistent)
    ctx.mark_non_differentiable(hs, gates)


def _backward(ctx, dy, dhT, _dhs, _dgates):
    x, w_ih, w_hh, b_ih, b_hh, lengths, hs, gates = ctx.saved_tensors
    B, T, H = x.shape[0], x.shape[1], w_hh.shape[1]
    dy = x.new_zeros(B, T, H) if dy is None else dy
    dhT = x.new_zeros(B, H) if dhT is None else dhT
    dx, dw_ih, dw_hh, db_ih, db_hh, dh0 = gru_backward(
        dy, dhT, x, w_ih, w_hh, b_ih, b_hh, lengths, hs, gates, *ctx.flags
    )
    bias = b_ih is not None
    return dx, dw_ih, dw_hh, db_ih if bias else None, db_hh if bias else None, dh0, None, None, None, None


gru.register_autograd(_backward, setup_context=_setup_context)
