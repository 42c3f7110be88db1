"""One layer of an uneven batch in length segments (see :mod:`seqkit_onednn.segments`) as one autograd node.

Sorting, reversing within lengths, slicing the segments, chaining their states and masking past each end
all happen inside the node, forward and backward, so autograd sees one operation per layer instead of a
slice, pad and concatenation per segment (whose zero-filled gradients cost as much as a segment's work).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from seqkit import reverse_within, valid_mask
from seqkit_onednn import build, segments, workspace
from seqkit_onednn.workspace import Lease


@dataclass
class Layout:
    """How a batch splits: its rows longest first, and the segments ``[a, b)`` with the rows running in each."""

    order: Tensor  # sorted row -> original row
    inverse: Tensor  # original row -> sorted row
    lengths: Tensor  # sorted
    counts: list[int]  # the sorted lengths
    valid: Tensor  # (B, T) bool, sorted rows: step t is real
    segments: list[tuple[int, int, int]]  # (start, stop, rows)

    @classmethod
    def of(cls, lengths: Tensor, steps: int) -> Layout:
        order = torch.argsort(lengths, descending=True, stable=True)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)
        ordered = lengths[order]
        counts = ordered.tolist()
        bounds = segments.plan(counts)
        spans = [(a, b, sum(1 for n in counts if n > a)) for a, b in itertools.pairwise(bounds)]
        return cls(order, inverse, ordered, counts, valid_mask(ordered, steps), spans)


def _workspace(x: Tensor, hidden: int, reset_after: bool) -> Lease:
    batch, steps, inputs = x.shape
    return Lease(workspace.size(batch, steps, inputs, hidden, 1, reset_after, x.dtype == torch.bfloat16))


class Split(torch.autograd.Function):
    """``(layout, reset_after, training, x (B, T, I), h0 (D, B, H), *per direction (w_layer, w_iter, bias))``
    -> ``(B, T, D*H)``, zero past each end; each direction's final state is read from it by the caller.

    *training*: keep workspaces for a backward (the caller knows; grad mode is off in here).
    """

    @staticmethod
    def forward(ctx, layout: Layout, reset_after: bool, training: bool, x: Tensor, h0: Tensor, *weights: Tensor):
        ext = build.extension()
        batch, steps = x.shape[0], x.shape[1]
        dirs, hidden = h0.shape[0], h0.shape[2]
        xs = x.index_select(0, layout.order)
        out = x.new_zeros(batch, steps, dirs * hidden)
        saved: list[list[tuple]] = []
        for d in range(dirs):
            w_layer, w_iter, bias = weights[3 * d : 3 * d + 3]
            inputs = reverse_within(xs, layout.lengths) if d == 1 else xs
            scan = x.new_zeros(batch, steps, hidden)
            h, kept = h0[d].index_select(0, layout.order), []
            for start, stop, rows in layout.segments:
                piece, h_in = inputs[:rows, start:stop].contiguous(), h[:rows].contiguous()
                lease = _workspace(piece, hidden, reset_after) if training else None
                buffer = lease.buffer if lease is not None else torch.empty(0, dtype=torch.uint8)
                y, h = ext.gru_forward(piece, h_in, w_layer, w_iter, bias, buffer, reset_after, training)
                scan[:rows, start:stop] = y
                kept.append((piece, h_in, y, h, lease))  # rows ending before the next segment drop out of h
            scan = reverse_within(scan, layout.lengths) if d == 1 else scan
            out[..., d * hidden : (d + 1) * hidden] = scan
            saved.append(kept)
        out.mul_(layout.valid[:, :, None])  # rows ending inside a segment computed padded steps
        if training:
            ctx.layout, ctx.reset_after, ctx.kept, ctx.shapes = layout, reset_after, saved, (x.shape, h0.shape)
            ctx.save_for_backward(*weights)
        return out.index_select(0, layout.inverse)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout: Tensor) -> tuple[Tensor | None, ...]:
        ext = build.extension()
        layout, weights = ctx.layout, ctx.saved_tensors
        x_shape, h_shape = ctx.shapes
        dirs, hidden = h_shape[0], h_shape[2]
        dout = dout.index_select(0, layout.order) * layout.valid[:, :, None]
        dx = dout.new_zeros(x_shape, dtype=torch.float32)
        dh0 = dout.new_zeros(h_shape, dtype=torch.float32)
        grads: list[Tensor] = []
        for d in range(dirs):
            w_layer, w_iter, bias = weights[3 * d : 3 * d + 3]
            g = dout[..., d * hidden : (d + 1) * hidden]
            g = reverse_within(g, layout.lengths) if d == 1 else g
            dx_scan = torch.zeros_like(dx)
            sums: list[Tensor] | None = None
            dh = None  # gradient reaching the state the next segment started from
            for (start, stop, rows), (piece, h_in, y, h_end, lease) in zip(
                reversed(layout.segments), reversed(ctx.kept[d]), strict=True
            ):
                dh_end = torch.zeros_like(h_end)
                if dh is not None:
                    dh_end[: dh.shape[0]] = dh
                dy = g[:rows, start:stop].contiguous()
                d_piece, dh, *dw = ext.gru_backward(
                    piece, h_in, w_layer, w_iter, bias, y, h_end, lease.buffer, dy, dh_end, ctx.reset_after
                )
                dx_scan[:rows, start:stop] = d_piece
                sums = dw if sums is None else [s + w for s, w in zip(sums, dw, strict=True)]
            if dh is not None:
                dh0[d, : dh.shape[0]] = dh
            dx += reverse_within(dx_scan, layout.lengths) if d == 1 else dx_scan
            grads += sums if sums is not None else [torch.zeros_like(w) for w in (w_layer, w_iter, bias)]
        ctx.kept = None  # the workspaces go back to the pool now
        dtype = weights[0].dtype
        dx = dx.index_select(0, layout.inverse).to(dtype)
        dh0 = dh0.index_select(1, layout.inverse).to(dtype)
        return None, None, None, dx, dh0, *grads
