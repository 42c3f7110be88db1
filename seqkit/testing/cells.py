"""``check_cell`` and ``check_kernel``: a cell's step contract, lengths, gradients, saving, learning; kernel parity."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from seqkit.cell import Cell, build_cell
from seqkit.errors import KernelUnavailableError
from seqkit.layers import create_rnn
from seqkit.plugins import PluginManager, get_plugin_manager
from seqkit.recurrent import Recurrent
from seqkit.testing.common import ConformanceError, as_tuple, close, entry_name, max_difference, weighted_loss

I, H, B, T = 3, 4, 3, 6  # noqa: E741 (input, hidden, batch, time sizes)


def check_cell(
    kind: str,
    *,
    plugins: PluginManager | None = None,
    options: Mapping[str, Any] | None = None,
    finite_differences: bool = True,
) -> list[str]:
    """Check the registered cell *kind* (built with *options*) against the cell contract; the checks that passed.

    State layout of ``init_state``/``step``; output and state shapes through the runner (2 layers,
    bidirectional); lengths (a padded sequence gives what it gives alone, zeros past its end, its final
    state at its last step); ``Recurrent.step`` equals the whole sequence; autograd's gradients against
    central finite differences (float64); determinism; a ``state_dict`` round trip through ``torch.save``
    (``weights_only``); a few optimiser steps lower a loss.
    """
    manager = plugins or get_plugin_manager()
    entry = entry_name(f"cell '{kind}'", manager.cells.get(kind))
    options = dict(options or {})
    checks: list[tuple[str, Callable[[], None]]] = [
        ("build", lambda: _built(manager, kind, options, entry)),
        ("state layout", lambda: _state_layout(_built(manager, kind, options, entry), entry)),
        ("shapes", lambda: _shapes(_layer(manager, kind, options), entry)),
        ("lengths", lambda: padded_equals_alone(_layer(manager, kind, options), entry, 1e-10)),
        ("step", lambda: _step_equals_sequence(_layer(manager, kind, options, bidirectional=False), entry)),
        ("determinism", lambda: _determinism(manager, kind, options, entry)),
        ("save/load", lambda: _round_trip(manager, kind, options, entry)),
        ("training", lambda: _learns(manager, kind, options, entry)),
    ]
    if finite_differences:
        checks.insert(5, ("gradients", lambda: _finite_differences(manager, kind, options, entry)))
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


def check_kernel(
    cell: str,
    kernel: str,
    *,
    plugins: PluginManager | None = None,
    options: Mapping[str, Any] | None = None,
    device: str = "cpu",
) -> list[str]:
    """Check kernel *kernel* of *cell* against the ``reference`` step loop; the checks that passed.

    Outputs, final states and the gradients of every parameter and of the input agree (2 layers,
    bidirectional, mixed lengths, a given initial state); an empty sequence keeps its initial state;
    an empty time axis; NaN in the padding reaches neither outputs nor gradients. Runs in float64 where
    the kernel supports it, else float32 (looser tolerance). Raises :class:`seqkit.KernelUnavailableError`
    when the kernel cannot run on *device* at all.
    """
    manager = plugins or get_plugin_manager()
    spec = manager.kernels.get(f"{cell}/{kernel}")
    entry = entry_name(f"kernel '{cell}/{kernel}'", spec)
    options = dict(options or {})
    probe = build_cell(manager.cells.get(cell), 2, 3, options)
    where = torch.device(device)
    dtype, tol = torch.float64, 1e-10
    if spec.supports(probe, where, dtype) is not None:
        dtype, tol = torch.float32, 1e-4
        reason = spec.supports(probe, where, dtype)
        if reason is not None:
            raise KernelUnavailableError(f"{entry} cannot run on {device}: {reason}")

    def layers() -> tuple[Recurrent, Recurrent]:
        fast = _layer(manager, cell, options, backend=kernel).to(where, dtype)
        slow = _layer(manager, cell, options, backend="reference").to(where, dtype)
        slow.load_state_dict(fast.state_dict())
        return fast, slow

    checks: list[tuple[str, Callable[[], None]]] = [
        ("parity", lambda: _parity(*layers(), entry, tol)),
        ("lengths", lambda: padded_equals_alone(layers()[0], entry, tol)),
        ("empty sequence", lambda: _empty_sequence(layers()[0], entry)),
        ("empty time axis", lambda: _empty_time_axis(layers()[0], entry)),
        ("nan padding", lambda: _nan_padding(layers()[0], entry)),
    ]
    passed = []
    for name, check in checks:
        try:
            check()
        except ConformanceError:
            raise
        except Exception as error:
            raise ConformanceError(entry, name, f"raised {type(error).__name__}: {error}") from error
        passed.append(name)
    return passed


# --- building -----------------------------------------------------------------------------------------------


def _built(manager: PluginManager, kind: str, options: dict[str, Any], entry: str) -> Cell:
    cell = build_cell(manager.cells.get(kind), I, H, options)
    if not isinstance(cell, Cell):
        raise ConformanceError(entry, "build", f"built {type(cell).__name__}, expected a seqkit.Cell")
    return cell


def _layer(
    manager: PluginManager,
    kind: str,
    options: dict[str, Any],
    *,
    backend: str = "reference",
    bidirectional: bool = True,
    layers: int = 2,
    seed: int = 0,
) -> Recurrent:
    torch.manual_seed(seed)
    return create_rnn(
        kind, I, H, num_layers=layers, bidirectional=bidirectional, backend=backend, plugins=manager, **options
    ).double()


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
    u = cell.project(params, torch.randn(2, cell.input_size, dtype=torch.float64))
    h, new = cell.step(params, u, state)
    if not isinstance(h, Tensor) or tuple(h.shape) != (2, cell.hidden_size):
        got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
        raise ConformanceError(
            entry, "state layout", f"step returned h of shape {got}, expected (2, {cell.hidden_size})"
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
    out, state = layer(torch.randn(B, T, I, dtype=torch.float64))
    if tuple(out.shape) != (B, T, 2 * H):
        raise ConformanceError(
            entry, "shapes", f"output shape {tuple(out.shape)}, expected (B, T, D*H) = {(B, T, 2 * H)}"
        )
    for name, part, size in zip(layer.cell.state_names, as_tuple(state), layer.cell.state_sizes):
        if tuple(part.shape) != (4, B, size):
            raise ConformanceError(
                entry,
                "shapes",
                f"final state '{name}' has shape {tuple(part.shape)}, expected (L*D, B, S) = {(4, B, size)}",
            )


def padded_equals_alone(layer: Recurrent, entry: str, tol: float) -> None:
    """Each sequence of a padded batch gives what it gives alone: outputs, zeros past its end, its final state."""
    p = next(layer.parameters())
    torch.manual_seed(1)
    x = torch.randn(B, T, I, dtype=p.dtype, device=p.device)
    x[1, 2:] = 1e3  # padding must not leak into the sequence's result
    lengths = torch.tensor([T, 2, T - 1], device=p.device)
    out, state = layer(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone_out, alone_state = layer(x[b : b + 1, :n])
        if not close(out[b, :n], alone_out[0], tol):
            raise ConformanceError(
                entry,
                "lengths",
                f"sequence {b} (length {n} of {T}) gives other outputs padded than alone "
                f"(max difference {max_difference(out[b, :n], alone_out[0]):.3g}): padding or other steps leak in",
            )
        if not torch.all(out[b, n:] == 0):
            raise ConformanceError(entry, "lengths", f"sequence {b} (length {n}) has non-zero outputs past its end")
        for name, s, a in zip(layer.cell.state_names, as_tuple(state), as_tuple(alone_state)):
            if not close(s[:, b], a[:, 0], tol):
                raise ConformanceError(
                    entry,
                    "lengths",
                    f"sequence {b} (length {n}): final state '{name}' is not its state at its last step",
                )


def _step_equals_sequence(layer: Recurrent, entry: str) -> None:
    x = torch.randn(B, T, I, dtype=torch.float64)
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
    manager: PluginManager, kind: str, options: dict[str, Any], entry: str, eps: float = 1e-6
) -> None:
    """Autograd's gradient of every parameter and of the input against central differences, in float64."""
    torch.manual_seed(0)
    layer = create_rnn(kind, 2, 3, bidirectional=True, backend="reference", plugins=manager, **options).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 2])

    def loss() -> Tensor:
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


def _determinism(manager: PluginManager, kind: str, options: dict[str, Any], entry: str) -> None:
    a, b = _layer(manager, kind, options), _layer(manager, kind, options)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        if not torch.equal(p, q):
            raise ConformanceError(
                entry, "determinism", f"parameter {name} differs between two builds with the same seed"
            )
    x = torch.randn(B, T, I, dtype=torch.float64)
    if not torch.equal(a(x)[0], a(x)[0]) or not torch.equal(a(x)[0], b(x)[0]):
        raise ConformanceError(entry, "determinism", "the same input and weights give different outputs on two runs")


def _round_trip(manager: PluginManager, kind: str, options: dict[str, Any], entry: str) -> None:
    saved = _layer(manager, kind, options)
    stream = io.BytesIO()
    torch.save(saved.state_dict(), stream)
    stream.seek(0)
    loaded = _layer(manager, kind, options, seed=1)
    loaded.load_state_dict(torch.load(stream, weights_only=True))
    x = torch.randn(B, T, I, dtype=torch.float64)
    if not torch.equal(saved(x)[0], loaded(x)[0]) or not torch.equal(saved(x)[0], copy.deepcopy(saved)(x)[0]):
        raise ConformanceError(
            entry, "save/load", "a layer loaded from a saved state_dict (or deep-copied) computes otherwise"
        )


def _learns(manager: PluginManager, kind: str, options: dict[str, Any], entry: str, steps: int = 30) -> None:
    torch.manual_seed(0)
    layer = create_rnn(kind, I, H, backend="reference", plugins=manager, **options)
    head = torch.nn.Linear(H, 1)
    x, target = torch.randn(8, 5, I), torch.randn(8, 5, 1)
    params = [*layer.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=0.02)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(head(layer(x)[0]), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    if not losses[-1] < 0.9 * losses[0]:
        raise ConformanceError(
            entry,
            "training",
            f"{steps} Adam steps did not lower a regression loss (from {losses[0]:.4f} to {losses[-1]:.4f})",
        )


# --- kernels ------------------------------------------------------------------------------------------------


def _parity(fast: Recurrent, slow: Recurrent, entry: str, tol: float) -> None:
    p = next(fast.parameters())
    torch.manual_seed(2)
    x = torch.randn(4, 5, I, dtype=p.dtype, device=p.device)
    lengths = torch.tensor([5, 3, 1, 4], device=p.device)
    initial = tuple(torch.randn_like(s) for s in as_tuple(fast.init_state(4)))
    given = initial[0] if len(initial) == 1 else initial
    results = []
    for layer in (fast, slow):
        xi = x.clone().requires_grad_()
        out, state = layer(xi, lengths, given)
        grads = torch.autograd.grad(weighted_loss(out, state), [xi, *layer.parameters()])
        results.append((out, as_tuple(state), grads))
    (o1, s1, g1), (o2, s2, g2) = results
    if not close(o1, o2, tol):
        raise ConformanceError(
            entry, "parity", f"outputs differ from the reference step loop (max {max_difference(o1, o2):.3g})"
        )
    for name, a, b in zip(fast.cell.state_names, s1, s2):
        if not close(a, b, tol):
            raise ConformanceError(
                entry, "parity", f"final state '{name}' differs from the reference (max {max_difference(a, b):.3g})"
            )
    names = ["input", *(n for n, _ in fast.named_parameters())]
    for name, a, b in zip(names, g1, g2):
        if not close(a, b, tol):
            raise ConformanceError(
                entry, "parity", f"the gradient of {name} differs from the reference's (max {max_difference(a, b):.3g})"
            )


def _empty_sequence(layer: Recurrent, entry: str) -> None:
    p = next(layer.parameters())
    x = torch.randn(2, 4, I, dtype=p.dtype, device=p.device)
    state = tuple(torch.randn_like(s) for s in as_tuple(layer.init_state(2)))
    out, final = layer(x, torch.tensor([0, 4], device=p.device), state[0] if len(state) == 1 else state)
    if not torch.all(out[0] == 0):
        raise ConformanceError(entry, "empty sequence", "a sequence of length 0 has non-zero outputs")
    for given, got in zip(state, as_tuple(final)):
        if not torch.equal(got[:, 0], given[:, 0]):
            raise ConformanceError(entry, "empty sequence", "a sequence of length 0 does not keep its initial state")


def _empty_time_axis(layer: Recurrent, entry: str) -> None:
    p = next(layer.parameters())
    out, _ = layer(torch.randn(2, 0, I, dtype=p.dtype, device=p.device))
    if tuple(out.shape) != (2, 0, 2 * H):
        raise ConformanceError(entry, "empty time axis", f"output shape {tuple(out.shape)}, expected (2, 0, {2 * H})")


def _nan_padding(layer: Recurrent, entry: str) -> None:
    p = next(layer.parameters())
    clean = torch.randn(3, 5, I, dtype=p.dtype, device=p.device)
    clean[1, 2:] = 0
    dirty = clean.clone()
    dirty[1, 2:] = float("nan")
    lengths = torch.tensor([5, 2, 4], device=p.device)
    results = []
    for x in (clean, dirty):
        x = x.requires_grad_()
        out, state = layer(x, lengths)
        results.append((out, torch.autograd.grad(weighted_loss(out, state), [x, *layer.parameters()])))
    (o1, g1), (o2, g2) = results
    if not torch.equal(o1, o2) or not all(torch.equal(a, b) for a, b in zip(g1, g2)):
        raise ConformanceError(entry, "nan padding", "NaN in the padding reaches the outputs or the gradients")
