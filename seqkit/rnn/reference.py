"""The reference kernel: a cell's own step loop, the definition every faster kernel must agree with."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.lengths import by_direction, valid_mask


def run_reference(
    cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State
) -> tuple[Tensor, State]:
    """Run one layer (every direction in *weights*) by stepping *cell* through time. Shapes as KernelSpec.run."""
    output, finals = by_direction(
        len(weights), x, lengths, lambda d, inputs: scan(cell, weights[d], inputs, lengths, tuple(s[d] for s in state))
    )
    return output, tuple(torch.stack(parts) for parts in zip(*finals))


def scan(cell: Cell, params: Params, x: Tensor, lengths: Tensor | None, state: State) -> tuple[Tensor, State]:
    """Forward in time over ``(B, T, I)``: outputs ``(B, T, cell.output_size)`` (zero past each end), final state.

    A sequence's state stops changing after its last real step, so the final state is the state there.
    """
    batch, steps = x.shape[0], x.shape[1]
    u = cell.project(params, x)
    active = None
    live_steps = steps
    if lengths is not None:
        active = valid_mask(lengths, steps)[:, :, None]
        live_steps = int(lengths.max()) if batch else 0  # steps past the longest sequence change nothing
    outputs = []
    for t in range(live_steps):
        h, new_state = cell.step(params, u[:, t], state)
        if active is not None:
            keep = active[:, t]
            state = tuple(torch.where(keep, n, s) for n, s in zip(new_state, state))
            h = torch.where(keep, h, h.new_zeros(()))
        else:
            state = tuple(new_state)
        outputs.append(h)
    out = torch.stack(outputs, 1) if outputs else x.new_zeros(batch, 0, cell.output_size)
    if live_steps < steps:
        out = torch.cat([out, out.new_zeros(batch, steps - live_steps, out.shape[2])], 1)
    return out, state
