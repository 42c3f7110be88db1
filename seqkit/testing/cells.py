"""``check_cell``: a cell's step contract, state layout, lengths, gradients, determinism, saving, learning."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.rnn.cell import Cell, build_cell
from seqkit.rnn.context import ContextCell, takes_context
from seqkit.rnn.layers import create_rnn
from seqkit.rnn.recurrent import Recurrent
from seqkit.rnn.regularizers import REGULARIZER_KEYS
from seqkit.testing.common import (
    ConformanceError,
    as_tuple,
    close,
    entry_name,
    losses_under_adam,
    max_difference,
    weighted_loss,
)
from seqkit.testing.kernels import check_kernel
from seqkit.testing.layers import (
    B,
    H,
    I,
    T,
    _derive,
    build_layer,
    determinism,
    padded_equals_alone,
    round_trip,
    with_extras,
)


def check_cell(
    kind: str,
    *,
    plugins: PluginManager | None = None,
    options: Mapping[str, Any] | None = None,
    finite_differences: bool = True,
    input_size: int = I,
    hidden_size: int = H,
) -> list[str]:
    """Check the registered cell *kind* (built with *options*) against the cell contract; the checks that passed.

    State layout of ``init_state``/``step``; output and state shapes through the runner (2 layers,
    bidirectional); lengths (a padded sequence gives what it gives alone, zeros past its end, its final
    state at its last step); ``Recurrent.step`` equals the whole sequence; autograd's gradients against
    central finite differences (float64); determinism; a ``state_dict`` round trip through ``torch.save``
    (``weights_only``); a few optimiser steps lower a loss.

    *options* may include the runner's regularisers (``zoneout``, ``recurrent_dropout``, ``weight_drop``):
    then the checks that compare outputs (lengths, step, determinism, save/load) run in eval mode, where
    regularisers change nothing; gradients and training run in training mode, the gradients with the same
    masks for every evaluation of the loss (the global generator is reseeded each time).

    *input_size* and *hidden_size* (default 3 and 4) size the layers of every check; the gradients' check runs
    at 2 and 3 (finite differences cost two evaluations a parameter) unless other sizes are given.
    """
    sizes = {"input_size": input_size, "hidden_size": hidden_size}
    manager = plugins or get_plugin_manager()
    entry = entry_name(f"cell '{kind}'", manager.cells.get(kind))
    options = dict(options or {})
    regularized = any(options.get(key) for key in REGULARIZER_KEYS)

    def layer(**changes: Any) -> Recurrent:
        built = build_layer(manager, kind, options, **sizes, **changes)
        return built.eval() if regularized else built

    checks: list[tuple[str, Callable[[], None]]] = [
        ("build", lambda: _built(manager, kind, options, entry, **sizes)),
        ("state layout", lambda: _state_layout(_built(manager, kind, options, entry, **sizes), entry)),
        ("shapes", lambda: _shapes(build_layer(manager, kind, options, **sizes), entry)),
        ("lengths", lambda: padded_equals_alone(layer(), entry, 1e-10)),
        ("step", lambda: _step_equals_sequence(layer(bidirectional=False), entry)),
        ("determinism", lambda: determinism(layer, entry)),
        ("save/load", lambda: round_trip(layer, entry)),
        ("training", lambda: _learns(manager, kind, options, entry, **sizes)),
        ("generic kernel", lambda: _generic_kernel(manager, kind, options, **sizes)),
    ]
    if finite_differences:
        # the cheap default sizes unless the cell needs others (a hidden size divisible by its heads, say)
        small = (2, 3) if (input_size, hidden_size) == (I, H) else (input_size, hidden_size)
        checks.insert(5, ("gradients", lambda: _finite_differences(manager, kind, options, entry, *small)))
    passed = []
    for name, check in checks:
        try:
            check()
        except ConformanceError:
            raise
        except Exception as error:  # a crash inside a check is a failure of that check, said as such
            raise ConformanceError(entry, name, f"raised {type(error).__name__}: {error}") from error
        passed.append(name)
    return passed


def _generic_kernel(manager: PluginManager, kind: str, options: dict[str, Any], **sizes: int) -> None:
    """The generic kernel, auto's choice for a cell without a kernel of its own, agrees with the step loop."""
    # the layer's regularisers act in training only; the kernel checks compare outputs of the cell itself
    cell_options = {k: v for k, v in options.items() if k not in REGULARIZER_KEYS}
    check_kernel(kind, "generic", plugins=manager, options=cell_options, **sizes)


# --- building -----------------------------------------------------------------------------------------------


def _built(
    manager: PluginManager, kind: str, options: dict[str, Any], entry: str, input_size: int = I, hidden_size: int = H
) -> Cell:
    cell_options = {k: v for k, v in options.items() if k not in REGULARIZER_KEYS}  # those are the runner's
    cell = build_cell(manager.cells.get(kind), input_size, hidden_size, cell_options)
    if not isinstance(cell, Cell):
        raise ConformanceError(entry, "build", f"built {type(cell).__name__}, expected a seqkit.Cell")
    return cell


def _params(cell: Cell) -> dict[str, Tensor]:
    params = {n: torch.empty(s, dtype=torch.float64) for n, s in cell.parameter_shapes().items()}
    cell.reset_parameters(params)
    return params


# --- the cell's own contract ----------------------------------------------------------------------------------


def _state_layout(cell: Cell, entry: str) -> None:
    names, sizes = tuple(cell.state_names), tuple(cell.state_sizes)
    if len(names) != len(sizes):
        raise ConformanceError(
            entry,
            "state layout",
            f"state_names {names} has {len(names)} components but state_sizes {sizes} has {len(sizes)}",
        )
    shapes = cell.parameter_shapes()
    if not shapes:
        raise ConformanceError(entry, "state layout", "parameter_shapes() is empty; a cell must have parameters")
    state = cell.init_state(2, dtype=torch.float64)
    _expect_state(entry, "init_state(2)", state, names, sizes)
    params = _params(cell)
    x = torch.randn(2, cell.input_size, dtype=torch.float64)
    stepper = cell
    if takes_context(cell):  # as the runner calls it: extras ride along the input, position as keywords
        stepper = ContextCell(cell, 0, 0)
        x = torch.cat([x, *_derive(cell, x).values()], -1)
    u = stepper.project(params, x)
    h, new = stepper.step(params, u, state)
    if not isinstance(h, Tensor) or tuple(h.shape) != (2, cell.output_size):
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ConformanceError(
            entry,
            "state layout",
            f"step returned h of shape {got}, expected (2, output_size) = (2, {cell.output_size})",
        )
    _expect_state(entry, "step", new, names, sizes)


def _expect_state(entry: str, what: str, state: Any, names: tuple[str, ...], sizes: tuple[int, ...]) -> None:
    if not isinstance(state, tuple) or not all(isinstance(s, Tensor) for s in state):
        raise ConformanceError(
            entry, "state layout", f"{what} returned {type(state).__name__}, expected a tuple of tensors {names}"
        )
    if len(state) != len(sizes):
        raise ConformanceError(
            entry, "state layout", f"{what} returned {len(state)} state component(s), expected {len(sizes)} {names}"
        )
    for name, part, size in zip(names, state, sizes):
        if tuple(part.shape) != (2, size):
            raise ConformanceError(
                entry,
                "state layout",
                f"{what}: state component '{name}' has shape {tuple(part.shape)}, "
                f"expected (batch, {size}) = (2, {size}) from state_sizes",
            )


def _shapes(layer: Recurrent, entry: str) -> None:
    out, state = layer(torch.randn(B, T, layer.input_size, dtype=torch.float64))
    wide = 2 * layer.output_size
    if tuple(out.shape) != (B, T, wide):
        raise ConformanceError(
            entry, "shapes", f"output shape {tuple(out.shape)}, expected (B, T, D*output_size) = {(B, T, wide)}"
        )
    for name, part, size in zip(layer.cell.state_names, as_tuple(state), layer.cell.state_sizes):
        if tuple(part.shape) != (4, B, size):
            raise ConformanceError(
                entry,
                "shapes",
                f"final state '{name}' has shape {tuple(part.shape)}, expected (L*D, B, S) = {(4, B, size)}",
            )


def _step_equals_sequence(layer: Recurrent, entry: str) -> None:
    x = torch.randn(B, T, layer.input_size, dtype=torch.float64)
    out, final = layer(x)
    state, outputs = None, []
    for t in range(T):
        y, state = layer.step(x[:, t], state)
        outputs.append(y)
    if not close(torch.stack(outputs, 1), out, 1e-10):
        raise ConformanceError(entry, "step", "Recurrent.step() one step at a time differs from the whole sequence")
    for name, a, b in zip(layer.cell.state_names, as_tuple(state), as_tuple(final)):
        if not close(a, b, 1e-10):
            raise ConformanceError(entry, "step", f"state '{name}' after step() differs from the whole sequence's")


def _finite_differences(
    manager: PluginManager,
    kind: str,
    options: dict[str, Any],
    entry: str,
    input_size: int = 2,
    hidden_size: int = 3,
    eps: float = 1e-6,
) -> None:
    """Autograd's gradient of every parameter and of the input against central differences, in float64."""
    torch.manual_seed(0)
    layer = with_extras(
        create_rnn(
            kind, input_size, hidden_size, bidirectional=True, backend="reference", plugins=manager, **options
        ).double()
    )
    x = torch.randn(2, 4, input_size, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])

    def loss() -> Tensor:
        torch.manual_seed(1)  # regularisers draw the same masks at every evaluation, so the loss is smooth
        out, state = layer(x, lengths)
        return weighted_loss(out, state)

    named = [("input", x), *layer.named_parameters()]
    grads = torch.autograd.grad(loss(), [t for _, t in named], allow_unused=True)
    for (name, tensor), grad in zip(named, grads):
        grad = torch.zeros_like(tensor) if grad is None else grad
        numeric = torch.zeros_like(tensor)
        flat, nflat = tensor.data.view(-1), numeric.view(-1)
        with torch.no_grad():
            for i in range(flat.numel()):
                keep = float(flat[i])
                flat[i] = keep + eps
                up = float(loss())
                flat[i] = keep - eps
                down = float(loss())
                flat[i] = keep
                nflat[i] = (up - down) / (2 * eps)
        if name == "input":
            numeric[1, 2:] = 0  # padding: its gradient is zero by definition
            grad = grad.clone()
            grad[1, 2:] = 0
        if not torch.allclose(grad, numeric, atol=1e-5, rtol=1e-4):
            raise ConformanceError(
                entry,
                "gradients",
                f"autograd's gradient of {name} differs from finite differences "
                f"(max difference {max_difference(grad, numeric):.3g}): "
                "the step's backward does not match what its forward computes",
            )


def _learns(
    manager: PluginManager,
    kind: str,
    options: dict[str, Any],
    entry: str,
    steps: int = 30,
    input_size: int = I,
    hidden_size: int = H,
) -> None:
    torch.manual_seed(0)
    layer = with_extras(create_rnn(kind, input_size, hidden_size, backend="reference", plugins=manager, **options))
    head = torch.nn.Linear(layer.output_size, 1)
    x, target = torch.randn(8, 5, input_size), torch.randn(8, 5, 1)
    params = [*layer.parameters(), *head.parameters()]
    losses = losses_under_adam(lambda: torch.nn.functional.mse_loss(head(layer(x)[0]), target), params, steps)
    if not losses[-1] < 0.9 * losses[0]:
        raise ConformanceError(
            entry,
            "training",
            f"{steps} Adam steps did not lower a regression loss (from {losses[0]:.4f} to {losses[-1]:.4f})",
        )
