"""One layer of an uneven batch in length segments (see :mod:`seqkit_onednn.segments`) as one autograd node.

Sorting, reversing within lengths, slicing the segments, chaining their states and masking past each end
all happen inside the node, forward and backward, so autograd sees one operation per layer instead of a
slice, pad and concatenation per segment (whose zero-filled gradients cost as much as a segment's work).
Sorting and reversing are one row gather of the ``(B*T, F)`` view each way (the reversal within lengths
is its own inverse, so the index that gathers a direction's inputs also gathers its output gradients).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from seqkit import valid_mask
from seqkit_onednn import build, segments, workspace
from seqkit_onednn.workspace import Lease

_NO_WORKSPACE = torch.empty(0, dtype=torch.uint8)


@dataclass
class Layout:
    """How a batch splits: its rows longest first, and the segments ``[a, b)`` with the rows running in each."""

    order: Tensor  # sorted row -> original row
    counts: list[int]  # the sorted lengths
    invalid: Tensor  # (B, T, 1) bool, sorted rows: step t is past the end
    segments: list[tuple[int, int, int]]  # (start, stop, rows)
    gather: list[Tensor]  # per direction, (B*T,): original (row, step) of each sorted, scan-order one
    scatter: list[Tensor]  # per direction, (B*T,): sorted, scan-order (row, step) of each original one

    @classmethod
    def of(cls, lengths: Tensor, steps: int, directions: int) -> Layout:
        order = torch.argsort(lengths, descending=True, stable=True)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)
        ordered = lengths[order]
        counts = ordered.tolist()
        spans = [(a, b, sum(1 for n in counts if n > a)) for a, b in itertools.pairwise(segments.plan(counts))]
        t = torch.arange(steps, device=lengths.device)
        gather, scatter = [], []
        for d in range(directions):
            # reverse direction: step t of a sequence of length n reads step n-1-t; padding stays in place
            in_sorted = (
                torch.where(t < ordered[:, None], ordered[:, None] - 1 - t, t) if d == 1 else t.expand(len(counts), -1)
            )
            in_original = (
                torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t) if d == 1 else t.expand(len(counts), -1)
            )
            gather.append((order[:, None] * steps + in_sorted).reshape(-1))
            scatter.append((inverse[:, None] * steps + in_original).reshape(-1))
        invalid = ~valid_mask(ordered, steps)[:, :, None]
        return cls(order, counts, invalid, spans, gather, scatter)


_ALIGN = 4096  # each segment's workspace starts on a page of its own


def _workspaces(layout: Layout, x: Tensor, hidden: int, reset_after: bool) -> tuple[Lease, list[Tensor]]:
    """One pooled buffer for all of a direction's segments, cut into each one's workspace.

    Its size follows the rows and steps computed, so buffers are reused from batch to batch; a buffer per
    segment would leave the pool full of sizes that rarely come back.
    """
    bf16 = x.dtype == torch.bfloat16
    sizes = [workspace.size(n, b - a, x.shape[2], hidden, 1, reset_after, bf16) for a, b, n in layout.segments]
    offsets = list(itertools.accumulate((-(-size // _ALIGN) * _ALIGN for size in sizes), initial=0))
    lease = Lease(offsets[-1])
    return lease, [lease.buffer[o : o + size] for o, size in zip(offsets, sizes, strict=False)]


def _rows(t: Tensor, index: Tensor) -> Tensor:
    """``(B, T, F)`` rearranged by a flat ``(B*T,)`` index of (row, step) pairs."""
    batch, steps = t.shape[0], t.shape[1]
    return t.reshape(batch * steps, -1).index_select(0, index).view(batch, steps, -1)


class Split(torch.autograd.Function):
    """``(layout, reset_after, training, x (B, T, I), h0 (D, B, H), *per direction (w_layer, w_iter, bias),
    *originals)`` -> ``(B, T, D*H)``, zero past each end; each direction's final state is read from it by the caller.
    *originals*: the parameters the weights were reordered from, saved so autograd refuses a backward after one of
    them changed in place.

    *training*: keep workspaces for a backward (the caller knows; grad mode is off in here).
    """

    @staticmethod
    def forward(ctx, layout: Layout, reset_after: bool, training: bool, x: Tensor, h0: Tensor, *weights: Tensor):
        ext = build.extension()
        dirs, hidden = h0.shape[0], h0.shape[2]
        outputs, saved = [], []
        for d in range(dirs):
            w_layer, w_iter, bias = weights[3 * d : 3 * d + 3]
            inputs = _rows(x, layout.gather[d])
            scan = x.new_empty(x.shape[0], x.shape[1], hidden)
            h, kept = h0[d].index_select(0, layout.order), []
            lease, buffers = _workspaces(layout, x, hidden, reset_after) if training else (None, None)
            for i, (start, stop, rows) in enumerate(layout.segments):
                piece, h_in = inputs[:rows, start:stop].contiguous(), h[:rows].contiguous()
                buffer = _NO_WORKSPACE if buffers is None else buffers[i]
                y, h = ext.gru_forward(piece, h_in, w_layer, w_iter, bias, buffer, reset_after, training)
                scan[:rows, start:stop] = y
                kept.append((piece, h_in, y, h, buffer))  # rows ending before the next segment drop out of h
            # past each end: never written, or padded steps of a row ending inside a segment
            outputs.append(_rows(scan.masked_fill_(layout.invalid, 0), layout.scatter[d]))
            saved.append((kept, lease))  # the lease hands the buffer back only when the node dies
        if training:
            # the node keeps the workspaces (and segment tensors) until the graph is freed: retain_graph works
            ctx.layout, ctx.reset_after, ctx.kept, ctx.shapes = layout, reset_after, saved, (x.shape, h0.shape)
            ctx.save_for_backward(*weights)  # the originals after the reordered weights
        return outputs[0] if dirs == 1 else torch.cat(outputs, -1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout: Tensor) -> tuple[Tensor | None, ...]:
        ext = build.extension()
        layout, saved = ctx.layout, ctx.saved_tensors  # unpacking checks every saved tensor's version
        x_shape, h_shape = ctx.shapes
        dirs, hidden = h_shape[0], h_shape[2]
        weights = saved[: 3 * dirs]
        dx = None
        dh0 = dout.new_zeros(h_shape)
        grads: list[Tensor] = []
        for d in range(dirs):
            w_layer, w_iter, bias = weights[3 * d : 3 * d + 3]
            # this direction's output gradients, sorted and in scan order; none reaches a step past an end
            g = _rows(dout[..., d * hidden : (d + 1) * hidden], layout.gather[d]).masked_fill_(layout.invalid, 0)
            dx_scan = dout.new_empty(x_shape)
            sums: list[Tensor] = []
            dh = None  # gradient reaching the state the next segment started from
            for (start, stop, rows), (piece, h_in, y, h_end, buffer) in zip(
                reversed(layout.segments), reversed(ctx.kept[d][0]), strict=True
            ):
                dh_end = torch.zeros_like(h_end)
                if dh is not None:
                    dh_end[: dh.shape[0]] = dh
                dy = g[:rows, start:stop].contiguous()
                d_piece, dh, *dw = ext.gru_backward(
                    piece, h_in, w_layer, w_iter, bias, y, h_end, buffer, dy, dh_end, ctx.reset_after
                )
                dx_scan[:rows, start:stop] = d_piece
                sums = dw if not sums else [s.add_(w) for s, w in zip(sums, dw, strict=True)]
            if dh is not None:
                dh0[d].index_copy_(0, layout.order[: dh.shape[0]], dh)
            # steps past an end got no gradient (exactly zero where computed as padding): unwritten ones too
            part = _rows(dx_scan.masked_fill_(layout.invalid, 0), layout.scatter[d])
            dx = part if dx is None else dx.add_(part)
            grads += sums or [torch.zeros_like(w) for w in (w_layer, w_iter, bias)]
        return None, None, None, dx, dh0, *grads, *[None] * (len(saved) - 3 * dirs)
