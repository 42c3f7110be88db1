"""What the conformance checks share: their error, a loss that weighs every output, comparisons with a message."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from seqkit.errors import SeqkitError


class ConformanceError(AssertionError):
    """A registered entry failed a conformance check; the message names the entry, the check and what is wrong."""

    def __init__(self, entry: str, check: str, problem: str) -> None:
        self.entry, self.check, self.problem = entry, check, problem
        super().__init__(f"{entry}: {check}: {problem}")


def entry_name(what: str, spec: Any) -> str:
    """``cell 'gru' (plugin 'gru' (distribution seqkit 0.1.0))``: the entry and who registered it, for messages."""
    return f"{what} ({spec.provenance})" if spec.provenance is not None else what


class DataUnavailable(SeqkitError):
    """A data source could not be checked because its files are not here (and nothing may download in tests)."""


def as_tuple(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return (state,) if isinstance(state, Tensor) else tuple(state)


def weighted_loss(out: Tensor, state: Tensor | tuple[Tensor, ...], seed: int = 0) -> Tensor:
    """A scalar whose gradient differs at every output and state element (so no gradient can hide)."""
    g = torch.Generator().manual_seed(seed)
    total = (out * torch.randn(out.shape, generator=g, dtype=out.dtype).to(out.device)).sum()
    for s in as_tuple(state):
        total = total + (s * torch.randn(s.shape, generator=g, dtype=s.dtype).to(s.device)).sum()
    return total


def max_difference(a: Tensor, b: Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max()) if a.numel() else 0.0


def close(a: Tensor, b: Tensor, tol: float) -> bool:
    return a.shape == b.shape and (a.numel() == 0 or bool(torch.allclose(a, b, atol=tol, rtol=tol, equal_nan=False)))


def losses_under_adam(loss: Callable[[], Tensor], parameters: Iterable[Tensor], steps: int) -> list[float]:
    """The loss before each of *steps* Adam steps (lr 0.02) on *parameters*."""
    optimizer = torch.optim.Adam(list(parameters), lr=0.02)
    losses = []
    for _ in range(steps):
        value = loss()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(float(value.detach()))
    return losses
