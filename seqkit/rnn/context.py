"""Extra per-step inputs and the cell's place in the stack: how the runner hands them to a cell's step.

A cell that declares :meth:`seqkit.Cell.extra_input_sizes` (e.g. ``{"mask": 1, "delta": 1}``) or sets
``takes_position = True`` runs wrapped in a :class:`ContextCell`, one per layer and direction. The wrapper
carries the extra inputs as trailing feature columns of the layer's input, so every kernel path (the
generic loop, the reference loop, truncated BPTT, regularisers) lengths-masks, chunks and — for the reverse
direction, which the runner feeds reversed within each sequence's length — reverses them exactly as it
does the input; the wrapper splits them off again before calling the cell's ``step``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from seqkit.errors import InvalidArgumentError
from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.lengths import by_direction


def takes_context(cell: Cell) -> bool:
    """Whether *cell*'s step receives extra inputs or its layer and direction."""
    return bool(cell.extra_input_sizes()) or cell.takes_position


class ContextCell(Cell):
    """*cell* for one layer and direction, its input widened by the extra inputs (in declared order)."""

    def __init__(self, cell: Cell, layer: int, direction: int) -> None:
        self.inner = cell
        self.layer = layer
        self.direction = direction
        self.extra_sizes = dict(cell.extra_input_sizes())
        super().__init__(cell.input_size + sum(self.extra_sizes.values()), cell.hidden_size)
        self.state_names = cell.state_names
        self.takes_recurrent_mask = cell.takes_recurrent_mask

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return self.inner.state_sizes

    @property
    def output_size(self) -> int:
        return self.inner.output_size

    @property
    def options(self) -> dict[str, Any]:
        return self.inner.options

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.inner.parameter_shapes()

    def recurrent_parameters(self) -> tuple[str, ...]:
        return self.inner.recurrent_parameters()

    def init_state(
        self, batch_size: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        return self.inner.init_state(batch_size, device=device, dtype=dtype)

    def project(self, params: Params, x: Tensor) -> Tensor:
        width = sum(self.extra_sizes.values())
        if not width:
            return self.inner.project(params, x)
        return torch.cat([self.inner.project(params, x[..., :-width]), x[..., -width:]], -1)

    def step(self, params: Params, u_t: Tensor, state: State, **keywords: Any) -> tuple[Tensor, State]:
        width = sum(self.extra_sizes.values())
        if width:
            keywords["extras"] = dict(
                zip(self.extra_sizes, u_t[..., -width:].split(list(self.extra_sizes.values()), -1))
            )
            u_t = u_t[..., :-width]
        if self.inner.takes_position:
            keywords.update(layer=self.layer, direction=self.direction)
        return self.inner.step(params, u_t, state, **keywords)


def extra_columns(
    cell: Cell, extras: Mapping[str, Tensor] | None, leading: tuple[int, ...], like: Tensor
) -> Tensor | None:
    """The declared extra inputs as one ``(*leading, sum F)`` tensor in declared order; None when the cell has none.

    *leading* is ``(B, T)`` for a sequence, ``(B,)`` for one step.
    """
    sizes = cell.extra_input_sizes()
    given = dict(extras or {})
    unknown = sorted(set(given) - set(sizes))
    if unknown:
        declared = ", ".join(sizes) or "none"
        raise InvalidArgumentError(f"extra inputs {unknown} are not declared by {cell!r} (it declares: {declared})")
    if not sizes:
        return None
    missing = [name for name in sizes if name not in given]
    if missing:
        raise InvalidArgumentError(f"{cell!r} needs the extra inputs {missing} (extras={{name: tensor}})")
    parts = []
    for name, size in sizes.items():
        value = given[name]
        if not isinstance(value, Tensor) or tuple(value.shape) != (*leading, size):
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise InvalidArgumentError(f"extra input {name!r} must have shape {(*leading, size)}, got {shape}")
        parts.append(value.to(device=like.device, dtype=like.dtype))
    return torch.cat(parts, -1)


def run_with_context(
    run: Any,
    cell: Cell,
    layer: int,
    weights: list[dict[str, Tensor]],
    inputs: Tensor,
    extra: Tensor | None,
    lengths: Tensor | None,
    layer_state: State,
) -> tuple[Tensor, State]:
    """One layer of a cell that takes extra inputs or its position: each direction alone, through the kernel *run*.

    The extra inputs ride along as trailing input columns; the reverse direction gets input and extra inputs
    reversed within each sequence's length, as :func:`seqkit.rnn.lengths.by_direction` does.
    """
    widened = inputs if extra is None else torch.cat([inputs, extra], -1)

    def one(direction: int, seq: Tensor) -> tuple[Tensor, State]:
        part = tuple(s[direction : direction + 1] for s in layer_state)
        return run(ContextCell(cell, layer, direction), [weights[direction]], seq, lengths, part)

    output, finals = by_direction(len(weights), widened, lengths, one)
    return output, tuple(torch.cat(parts, 0) for parts in zip(*finals))
