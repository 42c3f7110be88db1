"""The ``generic`` kernel: any cell's step, run fast on any device; the default where no dedicated kernel runs.

Same arithmetic as the ``reference`` step loop, arranged so that a plain Python loop over steps is cheap:
  - the input part of every step runs once, as one large GEMM: the cell's ``project`` on the whole
    sequence, or, for a cell that defines only ``step``, the input-only operations found by tracing it
    (:mod:`seqkit.rnn.derive`);
  - the projection is split into steps with ``unbind``, whose backward stacks the per-step
    gradients once; indexing ``u[:, t]`` instead makes autograd add a zero-filled copy of the whole
    ``(B, T, P)`` gradient at every step, which dominated the step loop's backward;
  - masking for lengths is applied only from the shortest sequence's end onwards, and no step runs past
    the longest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from seqkit.rnn import packedgemm
from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.derive import Split, split_step
from seqkit.rnn.lengths import by_direction
from seqkit.rnn.percell import PerCell
from seqkit.rnn.steploop import MIN_STEPS, Inputs, mode, run_looped, wants_loop

Project = Callable[[Params, Tensor], list[Any]]
Step = Callable[[Params, Any, State], tuple[Tensor, State]]

# one trace per cell object and its attributes: a layer's cells live as long as the layer
_splits: PerCell[Split | None] = PerCell()
_UNTRACED: Any = object()


def run_generic(
    cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State
) -> tuple[Tensor, State]:
    """Run one layer (every direction in *weights*); shapes as ``KernelSpec.run``."""
    packedgemm.choice()  # a bad SEQKIT_GENERIC_GEMM or SEQKIT_GENERIC_LOOP is an error on every path, not only
    mode()  # where a GEMM is rewritten or the loop would run as one node
    project, step = plan(cell)

    def one(direction: int, inputs: Tensor) -> tuple[Tensor, State]:
        params, initial = weights[direction], tuple(s[direction] for s in state)
        return looped(cell, step, params, inputs, lengths, initial) or scan(
            project, step, cell, params, inputs, lengths, initial
        )

    output, finals = by_direction(len(weights), x, lengths, one)
    return output, tuple(torch.stack(parts) for parts in zip(*finals))


def looped(
    cell: Cell, step: Step, params: Params, x: Tensor, lengths: Tensor | None, state: State
) -> tuple[Tensor, State] | None:
    """The step loop as one autograd node (:mod:`seqkit.rnn.steploop`), or None where that path does not apply."""
    batch, steps = x.shape[0], x.shape[1]
    live = steps if lengths is None or batch == 0 else int(lengths.max())
    if live < MIN_STEPS or not wants_loop(cell, params, x, state):
        return None
    split = _splits.get(cell) if type(cell).project is Cell.project else None
    if type(cell).project is not Cell.project:
        inputs = Inputs((cell.project(params, x[:, :live]),), (1,), False)
    elif split is not None and step == split.step:
        inputs = Inputs(split.whole(params, x[:, :live]), (0,) * split.frontier, True)
    else:
        inputs = Inputs((x[:, :live],), (1,), False)
    result = run_looped(cell, step, inputs, params, lengths, state, live)
    if result is None:
        return None
    out, final = result
    if live < steps:
        out = torch.cat([out, out.new_zeros(batch, steps - live, out.shape[2])], 1)
    return out, final


def plan(cell: Cell, *, traced: bool = True) -> tuple[Project, Step]:
    """How *cell* runs here: its own ``project``/``step``, or (*traced*) the traced split of a step-only cell."""
    if type(cell).project is not Cell.project:  # project is defined on batch-first input, (B, T, I)
        return (lambda params, x: list(cell.project(params, x).unbind(1))), cell.step
    if not traced:
        return (lambda params, x: list(x.unbind(1))), cell.step
    split = _splits.get(cell, _UNTRACED)
    if split is _UNTRACED:
        split = _splits.set(cell, split_step(cell))
    if split is None:
        return (lambda params, x: list(x.unbind(1))), cell.step
    return split.project, split.step


def hoists(cell: Cell) -> bool:
    """Whether the generic kernel runs part of *cell*'s step once for the whole sequence."""
    plan(cell)
    return type(cell).project is not Cell.project or _splits.get(cell) is not None


def scan(
    project: Project, step: Step, cell: Cell, params: Params, x: Tensor, lengths: Tensor | None, state: State
) -> tuple[Tensor, State]:
    """Forward in time over ``(B, T, I)``: outputs ``(B, T, cell.output_size)`` (zero past each end), final state."""
    batch, steps = x.shape[0], x.shape[1]
    live = steps if lengths is None or batch == 0 else int(lengths.max())
    if live == 0:
        return x.new_zeros(batch, steps, cell.output_size), state
    inputs = project(params, x[:, :live])
    # steps before the shortest sequence's end need no masking
    always = live if lengths is None else int(lengths.min())
    keep = None if lengths is None else (torch.arange(live, device=x.device)[:, None] < lengths).unsqueeze(-1)
    outputs = []
    for t in range(live):
        h, new_state = step(params, inputs[t], state)
        if t >= always:
            assert keep is not None
            state = tuple(torch.where(keep[t], n, s) for n, s in zip(new_state, state))
            h = torch.where(keep[t], h, h.new_zeros(()))
        else:
            state = tuple(new_state)
        outputs.append(h)
    out = torch.stack(outputs, 1)
    if live < steps:
        out = torch.cat([out, out.new_zeros(batch, steps - live, out.shape[2])], 1)
    return out, state
