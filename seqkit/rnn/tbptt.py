"""Truncated backpropagation through time: run one layer in time chunks, carrying the state detached between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from seqkit.errors import InvalidArgumentError
from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.lengths import by_direction

# KernelSpec.run: (cell, weights, x (B, T, I), lengths (B,) or None, state (D, B, H) parts) -> (output, state)
Run = Callable[[Cell, Sequence[Params], Tensor, Tensor | None, State], tuple[Tensor, State]]


def check_steps(value: object) -> int | None:
    """*value* as a chunk length (an integer >= 1), or None for full backpropagation through time."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"tbptt_steps must be an integer >= 1 or None (full BPTT), got {value!r}")
    return int(value)


def run_truncated(
    run: Run, steps: int, cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State
) -> tuple[Tensor, State]:
    """One layer (every direction in *weights*) through *run*, in chunks of *steps* time steps.

    Forward values are those of one ``run(cell, weights, x, lengths, state)`` call up to rounding (a kernel's
    input projection of a chunk may be summed in another order than the whole sequence's); gradients stop at each
    chunk boundary, counted in each direction's own scan order (the reverse direction's chunks start at each
    sequence's real end). Shapes as ``KernelSpec.run``: ``x`` ``(B, T, I)``, state parts ``(D, B, H)``.
    """
    output, finals = by_direction(
        len(weights),
        x,
        lengths,
        lambda d, inputs: _scan_chunks(
            run, steps, cell, weights[d], inputs, lengths, tuple(s[d : d + 1] for s in state)
        ),
    )
    return output, tuple(torch.cat(parts, 0) for parts in zip(*finals))


def _scan_chunks(
    run: Run, steps: int, cell: Cell, params: Params, x: Tensor, lengths: Tensor | None, state: State
) -> tuple[Tensor, State]:
    """One direction, forward in time, chunk by chunk; returns ``(B, T, H)`` outputs and ``(1, B, H)`` state parts."""
    batch, total = x.shape[0], x.shape[1]
    live = total if lengths is None else int(lengths.max())  # chunks past every sequence's end change nothing
    carried, final = state, state
    pieces = []
    for start in range(0, live, steps):
        chunk = x[:, start : start + steps]
        width = chunk.shape[1]
        chunk_lengths = None
        if lengths is not None:
            chunk_lengths = (lengths - start).clamp(0, width)
            if int(chunk_lengths.min()) == width:
                chunk_lengths = None  # every row runs the whole chunk: the kernel's fast path, as the runner passes
        out, new = run(cell, [params], chunk, chunk_lengths, carried)
        pieces.append(out)
        if chunk_lengths is None:
            final = tuple(new)
        else:
            # A row that ended in an earlier chunk keeps that chunk's state, with its gradient (not the detached copy).
            ran = (chunk_lengths > 0)[None, :, None]
            final = tuple(torch.where(ran, n, f) for n, f in zip(new, final))
        carried = tuple(s.detach() for s in new)  # the truncation: no gradient flows into an earlier chunk
    if live < total:
        hidden = pieces[0].shape[2] if pieces else cell.output_size
        pieces.append(x.new_zeros(batch, total - live, hidden))
    return torch.cat(pieces, 1), final


def layer_runner(run: Run, steps: int | None, training: bool) -> Run:
    """The kernel's ``run`` itself, or its truncated form while training with gradients (eval and no_grad: one call)."""
    if steps is None or not training or not torch.is_grad_enabled():
        return run

    def truncated(cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State):
        return run_truncated(run, steps, cell, weights, x, lengths, state)

    return truncated
