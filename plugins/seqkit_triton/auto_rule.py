"""Where ``auto`` picks the Triton GRU on CUDA: only inside what GPU measurements show it winning, with margin.

cuDNN runs the reset-after GRU on every NVIDIA GPU, so Triton replaces it only where a measurement on the same
GPU architecture, dtype and formulation brackets the layer's size on every axis (hidden size, batch, steps)
and every bracketing measurement has Triton at least :data:`MARGIN` times cuDNN's speed, forward and
forward+backward alike. Outside the measured region cuDNN stays: an unmeasured shape is never guessed at.
For ``reset_after=false`` cuDNN has no counterpart, so Triton is the choice whatever the size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from seqkit import Cell, ShapeBucket

# Triton must be at least this many times cuDNN's speed at every bracketing measurement: timings move
# between driver versions, clocks and neighbouring shapes, and a wrong switch costs more than a missed one.
MARGIN = 1.25


@dataclass(frozen=True)
class Measurement:
    """One measured shape: Triton's time over cuDNN's (below 1: Triton faster), forward and forward+backward."""

    gpu: str
    capability: tuple[int, int]
    dtype: str
    reset_after: bool
    hidden: int
    batch: int
    steps: int
    forward: float
    train: float
    date: str

    @property
    def speedup(self) -> float:
        """cuDNN's time over Triton's in the worse of the two passes."""
        return 1 / max(self.forward, self.train)


Capability = Callable[[torch.device], tuple[int, int]]


def device_capability(device: torch.device) -> tuple[int, int]:
    """The CUDA compute capability of *device* (e.g. (9, 0) for the H100 and H200)."""
    return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]


def make_rule(
    table: Sequence[Measurement], capability: Capability | None = None
) -> Callable[[Cell, torch.device, torch.dtype, ShapeBucket | None], tuple[bool, str]]:
    """``KernelSpec.auto_rule`` deciding from *table*; *capability* defaults to :func:`device_capability`.

    Tests pass a fake table and a fake device lookup, so the rule is checked on machines without a GPU.
    """

    def auto_rule(cell: Cell, device: torch.device, dtype: torch.dtype, shape: ShapeBucket | None) -> tuple[bool, str]:
        if not cell.reset_after:
            return True, "cuDNN has no reset-before GRU, so the Triton kernel runs it at every size"
        if device.type != "cuda":
            return False, "the measured rule is for CUDA devices"
        if shape is None:
            return False, "the measured rule needs the input's batch size and length, not known before a call"
        arch = (capability or device_capability)(device)
        name = str(dtype).removeprefix("torch.")
        here = [m for m in table if m.capability == arch and m.dtype == name and m.reset_after]
        where = f"H={cell.hidden_size}, {shape}, {name}, sm_{arch[0]}{arch[1]}"
        corners = _bracket(here, (cell.hidden_size, shape.batch, shape.steps))
        if corners is None:
            return False, f"no GPU measurement covers {where}; cuDNN stays"
        slowest = min(corners, key=lambda m: m.speedup)
        source = f"measured on {slowest.gpu}, {slowest.date}"
        if slowest.speedup < MARGIN:
            return False, (
                f"at {where} Triton measured {slowest.speedup:.2f}x cuDNN's speed, under the {MARGIN}x margin "
                f"({source})"
            )
        fastest = max(corners, key=lambda m: m.speedup)
        return True, (
            f"measured rule: Triton at {slowest.speedup:.2f}-{fastest.speedup:.2f}x cuDNN's speed around {where} "
            f"({source})"
        )

    return auto_rule


def _bracket(table: Sequence[Measurement], point: tuple[int, int, int]) -> list[Measurement] | None:
    """The measurements at the corners of the grid cell holding *point* (H, B, T), or None if any is missing."""
    axes = ("hidden", "batch", "steps")
    sides = []
    for axis, value in zip(axes, point):
        values = sorted({getattr(m, axis) for m in table})
        lower = [v for v in values if v <= value]
        upper = [v for v in values if v >= value]
        if not lower or not upper:
            return None
        sides.append({lower[-1], upper[0]})
    found = {(m.hidden, m.batch, m.steps): m for m in table}
    corners = [found.get(corner) for corner in itertools.product(*sides)]
    return None if any(m is None for m in corners) else corners  # type: ignore[return-value]
