"""``check_kernel``: a kernel agrees with the reference step loop, forward and backward, and handles edge cases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from seqkit.errors import KernelUnavailableError
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.rnn.cell import build_cell
from seqkit.rnn.kernels import GENERIC
from seqkit.rnn.recurrent import Recurrent
from seqkit.testing.common import ConformanceError, as_tuple, close, entry_name, max_difference, weighted_loss
from seqkit.testing.layers import H, I, build_layer, padded_equals_alone


def check_kernel(
    cell: str,
    kernel: str,
    *,
    plugins: PluginManager | None = None,
    options: Mapping[str, Any] | None = None,
    device: str = "cpu",
    input_size: int = I,
    hidden_size: int = H,
) -> list[str]:
    """Check kernel *kernel* of *cell* against the ``reference`` step loop; the checks that passed.

    The layers are *input_size* by *hidden_size* (default 3 and 4).

    Outputs, final states and the gradients of every parameter and of the input agree (2 layers,
    bidirectional, mixed lengths, a given initial state); an empty sequence keeps its initial state;
    an empty time axis; NaN in the padding reaches neither outputs nor gradients. Runs in float64 where
    the kernel supports it, else float32 (looser tolerance). Raises :class:`seqkit.KernelUnavailableError`
    when the kernel cannot run on *device* at all.
    """
    manager = plugins or get_plugin_manager()
    # the core's generic kernel runs every cell and is not in the plugin registry
    spec = GENERIC if kernel == GENERIC.name else manager.kernels.get(f"{cell}/{kernel}")
    entry = entry_name(f"kernel '{cell}/{kernel}'", spec)
    options = dict(options or {})
    sizes = {"input_size": input_size, "hidden_size": hidden_size}
    probe = build_cell(manager.cells.get(cell), input_size, hidden_size, options)  # the sizes the cell is asked at
    where = torch.device(device)
    dtype, tol = torch.float64, 1e-10
    if spec.supports(probe, where, dtype) is not None:
        dtype, tol = torch.float32, 1e-4
        reason = spec.supports(probe, where, dtype)
        if reason is not None:
            raise KernelUnavailableError(f"{entry} cannot run on {device}: {reason}")

    def layers() -> tuple[Recurrent, Recurrent]:
        fast = build_layer(manager, cell, options, backend=kernel, **sizes).to(where, dtype)
        slow = build_layer(manager, cell, options, backend="reference", **sizes).to(where, dtype)
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


def _parity(fast: Recurrent, slow: Recurrent, entry: str, tol: float) -> None:
    p = next(fast.parameters())
    torch.manual_seed(2)
    # long enough that the generic kernel runs its loop as one autograd node (seqkit.rnn.steploop.MIN_STEPS)
    x = torch.randn(4, 10, fast.input_size, dtype=p.dtype, device=p.device)
    lengths = torch.tensor([10, 3, 1, 9], device=p.device)
    initial = tuple(torch.randn_like(s) for s in as_tuple(fast.init_state(4)))
    given = initial[0] if len(initial) == 1 else initial
    results = []
    for layer in (fast, slow):
        xi = x.clone().requires_grad_()
        out, state = layer(xi, lengths, given)
        # a parameter the cell leaves unused has a zero gradient in both (its own checks judge the cell)
        grads = torch.autograd.grad(
            weighted_loss(out, state), [xi, *layer.parameters()], allow_unused=True, materialize_grads=True
        )
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
    x = torch.randn(2, 4, layer.input_size, dtype=p.dtype, device=p.device)
    state = tuple(torch.randn_like(s) for s in as_tuple(layer.init_state(2)))
    out, final = layer(x, torch.tensor([0, 4], device=p.device), state[0] if len(state) == 1 else state)
    if not torch.all(out[0] == 0):
        raise ConformanceError(entry, "empty sequence", "a sequence of length 0 has non-zero outputs")
    for given, got in zip(state, as_tuple(final)):
        if not torch.equal(got[:, 0], given[:, 0]):
            raise ConformanceError(entry, "empty sequence", "a sequence of length 0 does not keep its initial state")


def _empty_time_axis(layer: Recurrent, entry: str) -> None:
    p = next(layer.parameters())
    out, _ = layer(torch.randn(2, 0, layer.input_size, dtype=p.dtype, device=p.device))
    wide = 2 * layer.output_size
    if tuple(out.shape) != (2, 0, wide):
        raise ConformanceError(entry, "empty time axis", f"output shape {tuple(out.shape)}, expected (2, 0, {wide})")


def _nan_padding(layer: Recurrent, entry: str) -> None:
    p = next(layer.parameters())
    clean = torch.randn(3, 10, layer.input_size, dtype=p.dtype, device=p.device)
    clean[1, 2:] = 0
    dirty = clean.clone()
    dirty[1, 2:] = float("nan")
    lengths = torch.tensor([10, 2, 9], device=p.device)
    results = []
    for x in (clean, dirty):
        x = x.requires_grad_()
        out, state = layer(x, lengths)
        inputs = [x, *layer.parameters()]
        grads = torch.autograd.grad(weighted_loss(out, state), inputs, allow_unused=True, materialize_grads=True)
        results.append((out, grads))
    (o1, g1), (o2, g2) = results
    if not torch.equal(o1, o2) or not all(torch.equal(a, b) for a, b in zip(g1, g2)):
        raise ConformanceError(entry, "nan padding", "NaN in the padding reaches the outputs or the gradients")
