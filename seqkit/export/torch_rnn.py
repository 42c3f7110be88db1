"""Recurrent layers for ``torch.export``: the cell's own step inside a ``while_loop`` over a dynamic time axis.

While :func:`looped_recurrent` is active, every :class:`seqkit.Recurrent` in a module runs its cells' ``project``
and ``step`` (any cell: the math is defined once) through ``torch._higher_order_ops.while_loop``, which
``torch.export`` captures as one loop rather than unrolling it, so batch and time stay dynamic. Past each
sequence's length the state is kept and the output is zero, as the runner does; the reverse direction reads each
sequence reversed within its length.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from seqkit.export.spec import ExportError
from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.context import takes_context
from seqkit.rnn.lengths import reverse_within
from seqkit.rnn.recurrent import Recurrent


def _scan(cell: Cell, params: Params, u: Tensor, lengths: Tensor, state: State) -> tuple[Tensor, State]:
    """One direction of one layer: ``u (B, T, P)`` projected inputs -> outputs ``(B, T, H)`` and the final state."""
    from torch._higher_order_ops import while_loop

    steps = u.shape[1]
    out = u.new_zeros(u.shape[0], steps, cell.hidden_size)

    def cond(t: Tensor, *carry: Tensor) -> Tensor:
        return t < steps

    def body(t: Tensor, *carry: Tensor) -> tuple[Tensor, ...]:
        *states, out = carry
        index = t.reshape(1)
        h, new = cell.step(params, u.index_select(1, index).squeeze(1), tuple(states))
        alive = (t < lengths).unsqueeze(-1)  # (B, 1): past its end a sequence keeps its state, outputs zero
        kept = tuple(torch.where(alive, n, s) for n, s in zip(new, states))
        out = out.index_copy(1, index, torch.where(alive, h, torch.zeros_like(h)).unsqueeze(1))
        return (t + 1, *kept, out)

    _, *final, out = while_loop(cond, body, (torch.zeros((), dtype=torch.long), *state, out))
    return out, tuple(final)


def _looped_forward(layer: Recurrent) -> Any:
    parts = len(layer.cell.state_names)
    directions = layer.num_directions

    def forward(x: Tensor, lengths: Tensor | None = None, state: Any = None, **extras: Any) -> Any:
        batch, steps = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = torch.ones_like(x[:, 0, 0], dtype=torch.long) * steps
        lengths = lengths.to(torch.long)
        if state is None:
            states = layer._initial(batch, x.device, x.dtype)
        else:
            states = (state,) if isinstance(state, Tensor) else tuple(state)
        inputs, finals = x, []
        for index, cell in enumerate(layer.cells):
            outputs = []
            for direction in range(directions):
                params = layer.weights(index, direction)
                seq = inputs if direction == 0 else reverse_within(inputs, lengths)
                start = tuple(s[index * directions + direction] for s in states)
                out, final = _scan(cell, params, cell.project(params, seq), lengths, start)
                outputs.append(out if direction == 0 else reverse_within(out, lengths))
                finals.append(final)
            inputs = outputs[0] if directions == 1 else torch.cat(outputs, -1)
        stacked = tuple(torch.stack([f[k] for f in finals], 0) for k in range(parts))
        return inputs, stacked[0] if parts == 1 else stacked

    return forward


def _looped_step(layer: Recurrent) -> Any:
    def step(x_t: Tensor, state: Any = None, **extras: Any) -> Any:
        out, final = layer.forward(x_t.unsqueeze(1), None, state)
        return out[:, 0], final

    return step


@contextlib.contextmanager
def looped_recurrent(model: nn.Module) -> Iterator[None]:
    """Within: every Recurrent in *model* runs as a ``while_loop`` over time (forward and step)."""
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, Recurrent)]
    for name, layer in layers:
        if takes_context(layer.cell):
            raise ExportError(
                f"layer '{name}': cell '{layer.kind}' takes extra per-step inputs or its position, which the "
                "exported loop does not pass"
            )
    try:
        for _, layer in layers:
            layer.forward = _looped_forward(layer)  # type: ignore[method-assign]
            layer.step = _looped_step(layer)  # type: ignore[method-assign]
        yield
    finally:
        for _, layer in layers:
            layer.__dict__.pop("forward", None)
            layer.__dict__.pop("step", None)
