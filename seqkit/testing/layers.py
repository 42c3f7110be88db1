"""The conformance kit's layers, built in float64 with derived extra inputs, and the checks any layer must pass:
padded equals alone, determinism, save and load."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from seqkit.plugin.manager import PluginManager
from seqkit.rnn.cell import Cell
from seqkit.rnn.layers import create_rnn
from seqkit.rnn.recurrent import Recurrent
from seqkit.testing.common import ConformanceError, as_tuple, close, max_difference

I, H, B, T = 3, 4, 3, 6  # noqa: E741 (input, hidden, batch, time sizes)


def build_layer(
    manager: PluginManager,
    kind: str,
    options: dict[str, Any],
    *,
    backend: str = "reference",
    bidirectional: bool = True,
    layers: int = 2,
    seed: int = 0,
    input_size: int = I,
    hidden_size: int = H,
) -> Recurrent:
    torch.manual_seed(seed)
    return with_extras(
        create_rnn(
            kind,
            input_size,
            hidden_size,
            num_layers=layers,
            bidirectional=bidirectional,
            backend=backend,
            plugins=manager,
            **options,
        ).double()
    )


class _DerivedExtras(Recurrent):
    """A layer whose cell declares extra per-step inputs, fed ones derived from each step's input when none are
    given: a padded sequence, the same sequence alone and one step at a time then all see the same extras."""

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: Any = None, *, extras: Any = None) -> Any:
        return super().forward(x, lengths, state, extras=_derive(self, x) if extras is None else extras)

    def step(self, x_t: Tensor, state: Any = None, *, extras: Any = None) -> Any:
        return super().step(x_t, state, extras=_derive(self, x_t) if extras is None else extras)


def _derive(layer: Recurrent | Cell, x: Tensor) -> dict[str, Tensor]:
    """``{name: (..., F)}`` of 0s and 1s (mask-like), a different function of the input's first feature per name.

    Piecewise constant in the input, so finite differences of the input do not move them, and detached: they
    are data, as a mask is; NaN padding never reaches them.
    """
    sizes = (layer.cell if isinstance(layer, Recurrent) else layer).extra_input_sizes()
    first = torch.nan_to_num(x.detach()[..., :1])
    return {
        name: (torch.sin(7.0 * (k + 1) * first + torch.arange(size, dtype=x.dtype, device=x.device)) > 0).to(x.dtype)
        for k, (name, size) in enumerate(sizes.items())
    }


def with_extras(layer: Recurrent) -> Recurrent:
    """*layer*, feeding derived extra inputs where its cell declares some (the kit's checks pass none)."""
    if layer.cell.extra_input_sizes():
        layer.__class__ = _DerivedExtras
    return layer


def padded_equals_alone(layer: Recurrent, entry: str, tol: float) -> None:
    """Each sequence of a padded batch gives what it gives alone: outputs, zeros past its end, its final state."""
    p = next(layer.parameters())
    torch.manual_seed(1)
    x = torch.randn(B, T, layer.input_size, dtype=p.dtype, device=p.device)
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


def determinism(layer: Callable[..., Recurrent], entry: str) -> None:
    a, b = layer(), layer()
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        if not torch.equal(p, q):
            raise ConformanceError(
                entry, "determinism", f"parameter {name} differs between two builds with the same seed"
            )
    x = torch.randn(B, T, a.input_size, dtype=torch.float64)
    if not torch.equal(a(x)[0], a(x)[0]) or not torch.equal(a(x)[0], b(x)[0]):
        raise ConformanceError(entry, "determinism", "the same input and weights give different outputs on two runs")


def round_trip(layer: Callable[..., Recurrent], entry: str) -> None:
    saved = layer()
    stream = io.BytesIO()
    torch.save(saved.state_dict(), stream)
    stream.seek(0)
    loaded = layer(seed=1)
    loaded.load_state_dict(torch.load(stream, weights_only=True))
    x = torch.randn(B, T, saved.input_size, dtype=torch.float64)
    if not torch.equal(saved(x)[0], loaded(x)[0]) or not torch.equal(saved(x)[0], copy.deepcopy(saved)(x)[0]):
        raise ConformanceError(
            entry, "save/load", "a layer loaded from a saved state_dict (or deep-copied) computes otherwise"
        )
