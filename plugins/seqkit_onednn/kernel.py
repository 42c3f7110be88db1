"""The ``onednn`` GRU kernel: torch.nn's layout in, oneDNN's fused primitives, uneven batches split by length."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from seqkit import Cell, Params, State, last_step, run_reference, unfused_reason
from seqkit_onednn import build, split, workspace
from seqkit_onednn.workspace import Lease

_NO_WORKSPACE = torch.empty(0, dtype=torch.uint8)


def _onednn_gates(w: Tensor, hs: int) -> Tensor:
    """torch's gate blocks (r, z, n) in oneDNN's order (u = z, r, o = n); differentiable, so gradients map back."""
    return torch.cat([w[hs : 2 * hs], w[:hs], w[2 * hs :]])


def onednn_bias(cell: Cell, params: Params, like: Tensor) -> Tensor:
    """oneDNN's float32 bias ``(G, H)`` from torch's ``bias_ih`` and ``bias_hh``.

    u and r see ``b_i + b_h`` in both formulations, so one bias each is exact (autograd routes its gradient to
    both). Reset-after (lbr_gru) keeps the candidate's two biases apart, since r multiplies only ``W_hn h + b_hn``:
    G = 4, the last being u' = b_hn. Reset-before adds ``b_hn`` after ``W_hn (r ⊙ h)``, outside the reset, so
    it folds into one bias: G = 3.
    """
    hs = cell.hidden_size
    gates = 4 if cell.reset_after else 3
    if not cell.bias:
        return torch.zeros(gates, hs, dtype=torch.float32, device=like.device)
    b_i, b_h = params["bias_ih"].float(), params["bias_hh"].float()
    u = b_i[hs : 2 * hs] + b_h[hs : 2 * hs]
    r = b_i[:hs] + b_h[:hs]
    candidate = [b_i[2 * hs :], b_h[2 * hs :]] if cell.reset_after else [b_i[2 * hs :] + b_h[2 * hs :]]
    return torch.stack([u, r, *candidate])


class _Direction(torch.autograd.Function):
    """One layer, one direction or both, forward; backward through oneDNN's backward primitive and its workspace."""

    @staticmethod
    def forward(ctx, x, h0, w_layer, w_iter, bias, reset_after, *originals):
        batch, steps, inputs = x.shape
        dirs = 2 if w_iter.dim() == 3 else 1
        size = workspace.size(batch, steps, inputs, w_iter.shape[-1], dirs, reset_after, x.dtype == torch.bfloat16)
        ctx.lease = Lease(size)  # the node keeps it until the graph is freed
        y, h_last = build.extension().gru_forward(x, h0, w_layer, w_iter, bias, ctx.lease.buffer, reset_after, True)
        ctx.reset_after = reset_after
        # *originals*: the parameters the weights were reordered from, saved though backward reads only the reordered
        # copies, so autograd refuses a backward after one of them changed in place (as it does for torch.nn.GRU)
        ctx.save_for_backward(x, h0, w_layer, w_iter, bias, y, h_last, *originals)
        ctx.originals = len(originals)
        return y, h_last

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, dh_last):
        x, h0, w_layer, w_iter, bias, y, h_last = ctx.saved_tensors[:7]  # unpacking all checks the originals too
        dy = torch.zeros_like(y) if dy is None else dy.contiguous()
        dh_last = torch.zeros_like(h_last) if dh_last is None else dh_last.contiguous()
        grads = build.extension().gru_backward(
            x, h0, w_layer, w_iter, bias, y, h_last, ctx.lease.buffer, dy, dh_last, ctx.reset_after
        )
        return (*grads, None, *[None] * ctx.originals)


def prepare(cell: Cell, params: Params, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One direction's weights in oneDNN's layout ``(w_layer, w_iter, bias)``; made once, shared by its calls."""
    hs = cell.hidden_size
    w_layer = _onednn_gates(params["weight_ih"], hs).contiguous()
    w_iter = _onednn_gates(params["weight_hh"], hs).contiguous()
    return w_layer, w_iter, onednn_bias(cell, params, like).contiguous()


def call(
    prepared: tuple[Tensor, Tensor, Tensor],
    x: Tensor,
    h0: Tensor,
    reset_after: bool,
    originals: Sequence[Tensor] = (),
) -> tuple[Tensor, Tensor]:
    """``(B, T, I)`` and ``(B, H)`` -> outputs ``(B, T, H)`` and the state after step T: one oneDNN call.
    *originals*: the parameters *prepared* was made from, checked for in-place changes before a backward."""
    inputs = (x.contiguous(), h0.contiguous(), *prepared)
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return _Direction.apply(*inputs, reset_after, *originals)
    y, h_last = build.extension().gru_forward(*inputs, _NO_WORKSPACE, reset_after, False)
    return y, h_last


def direction(cell: Cell, params: Params, x: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, T, I)`` and ``(B, H)`` -> outputs ``(B, T, H)`` and the state after step T, in torch.nn's layout."""
    return call(prepare(cell, params, x), x, h0, cell.reset_after, tuple(params.values()))


def run(cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State) -> tuple[Tensor, State]:
    """``KernelSpec.run``: shapes as there; a full batch in one call (both directions), uneven ones split by length.

    oneDNN has no variable lengths. The rows are sorted longest first and run in time segments whose batch
    shrinks as sequences end (:mod:`seqkit_onednn.segments`, :mod:`seqkit_onednn.split`); the reverse
    direction first reverses every sequence within its own length, so it has the same segments. Each final
    state is read at its last real step and outputs past an end are zeroed; gradients reaching padded steps
    are zero, so they change nothing.
    """
    (h0,) = state
    # oneDNN rejects an empty batch (there is nothing to compute); under jit.trace, autocast, forward-mode AD or
    # torch.func, torch must see each operation, which it cannot in the extension: the step loop, as written
    if x.shape[0] == 0 or unfused_reason(x, h0, *(w for params in weights for w in params.values())):
        return run_reference(cell, weights, x, lengths, state)
    if lengths is None:
        return _full(cell, weights, x, h0)
    return _split_by_length(cell, weights, x, lengths, h0)


def _full(cell: Cell, weights: Sequence[Params], x: Tensor, h0: Tensor) -> tuple[Tensor, State]:
    """Every sequence as long as *x*: one call, both directions in it when there are two.

    oneDNN's ``bidirectional_concat`` runs the second direction backwards in time over the same input and
    writes both outputs side by side: exactly the reverse direction when no sequence ends early.
    """
    if len(weights) == 1:
        out, h_last = direction(cell, weights[0], x, h0[0])
        return out, (h_last[None],)
    both = [prepare(cell, params, x) for params in weights]
    prepared = tuple(torch.stack(parts) for parts in zip(*both, strict=True))
    originals = tuple(w for params in weights for w in params.values())
    out, h_last = call(prepared, x, h0, cell.reset_after, originals)  # type: ignore[arg-type]
    return out, (h_last,)


def _split_by_length(
    cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor, h0: Tensor
) -> tuple[Tensor, State]:
    layout = split.Layout.of(lengths, x.shape[1], len(weights))
    longest, shortest = layout.counts[0], layout.counts[-1]
    if longest == shortest > 0:  # equal lengths (a bucketing sampler's batch): the full case, shorter
        out, (h_last,) = _full(cell, weights, x[:, :longest], h0)
        return F.pad(out, (0, 0, 0, x.shape[1] - longest)), (h_last,)
    flat = [t for params in weights for t in prepare(cell, params, x)]
    training = torch.is_grad_enabled() and any(t.requires_grad for t in (x, h0, *flat))
    originals = tuple(w for params in weights for w in params.values())
    out = split.Split.apply(layout, cell.reset_after, training, x.contiguous(), h0.contiguous(), *flat, *originals)
    hs = cell.hidden_size
    finals = [last_step(out[..., :hs], lengths, h0[0])]
    if len(weights) == 2:  # the reverse direction ends at each sequence's first step
        finals.append(torch.where((lengths > 0)[:, None], out[:, 0, hs:], h0[1]))
    return out, (torch.stack(finals),)
