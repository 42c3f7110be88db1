"""What a recurrent layer checks of its input and state, and how its state is laid out for the caller."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from seqkit.errors import InvalidArgumentError
from seqkit.rnn.cell import Cell, State

if TYPE_CHECKING:
    from seqkit.rnn.recurrent import Recurrent

LayerState = Tensor | tuple[Tensor, ...]


def check_input(layer: Recurrent, x: object, dims: int, layout: str, what: str = "input") -> None:
    """*x* is a floating-point tensor of *dims* dimensions, the layer's input width last, in the layer's dtype."""
    if not isinstance(x, Tensor) or x.dim() != dims or x.shape[-1] != layer.input_size:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InvalidArgumentError(f"{what} must have shape {layout.format(layer.input_size)}, got {shape}")
    if not x.dtype.is_floating_point:
        raise InvalidArgumentError(f"{what} must be a floating-point tensor, got {x.dtype}")
    p = next(iter(layer.parameters()), None)
    if p is not None and x.dtype != p.dtype and not torch.is_autocast_enabled(x.device.type):
        raise InvalidArgumentError(
            f"{what} is {x.dtype} but the layer's parameters are {p.dtype}; convert one of them "
            f"(layer.to({x.dtype}) or x.to({p.dtype}))"
        )


def pack_state(parts: State) -> LayerState:
    """One tensor for a one-component state (as torch.nn.GRU), else the tuple (as torch.nn.LSTM's ``(h, c)``)."""
    return parts[0] if len(parts) == 1 else parts


def unpack_state(layer: Recurrent, state: LayerState | None, batch: int, like: Tensor) -> State:
    """The caller's *state* as a tuple of ``(num_layers*num_directions, batch, S_k)`` parts, checked; the cell's
    initial state when None."""
    sizes = layer.cell.state_sizes
    if state is None:
        return layer._initial(batch, like.device, like.dtype)
    parts = (state,) if isinstance(state, Tensor) else tuple(state)
    names = layer.cell.state_names
    if len(parts) != len(sizes) or not all(isinstance(p, Tensor) for p in parts):
        raise InvalidArgumentError(
            f"state must be {'a tensor' if len(sizes) == 1 else 'a tuple (' + ', '.join(names) + ')'} "
            f"for cell '{layer.kind}', got {type(state).__name__} of {len(parts)}"
        )
    rows = layer.num_layers * layer.num_directions
    for name, part, size in zip(names, parts, sizes):
        if tuple(part.shape) != (rows, batch, size):
            raise InvalidArgumentError(
                f"state {name} must have shape (num_layers*num_directions, batch, {size}) = "
                f"{(rows, batch, size)}, got {tuple(part.shape)}"
            )
    return tuple(p.to(like.dtype) for p in parts)


def check_layer_inputs(kind: str, cells: list[Cell], directions: int) -> None:
    """Each layer above the first reads the outputs of the one below, both directions side by side."""
    for cell in cells:
        width = cell.output_size
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise InvalidArgumentError(f"cell '{kind}' declares output_size {width!r}; expected an integer >= 1")
    for layer, (below, cell) in enumerate(itertools.pairwise(cells), 1):
        if cell.input_size != directions * below.output_size:
            raise InvalidArgumentError(
                f"cell '{kind}' in layer {layer} takes {cell.input_size} inputs, but layer {layer - 1} outputs "
                f"{directions} x {below.output_size}; build stacks with seqkit.create_rnn, which sizes each layer"
            )


def check_state_widths(kind: str, cells: list[Cell]) -> None:
    """A stack joins its layers' states per component, so each component must be as wide in every layer."""
    first = cells[0].state_sizes
    for layer, cell in enumerate(cells[1:], 1):
        if tuple(cell.state_sizes) != tuple(first):
            raise InvalidArgumentError(
                f"cell '{kind}' has state widths {dict(zip(cell.state_names, cell.state_sizes))} in layer {layer} "
                f"but {dict(zip(cells[0].state_names, first))} in layer 0; a stacked layer keeps each state "
                "component at one width in every layer (derive it from hidden_size, not input_size)"
            )
