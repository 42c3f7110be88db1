"""What ``seqkit bench`` accepts: each size option's bounds, and whether a shape's tensors fit the device's memory.

Checked before any tensor is allocated: a shape too large for the machine is the user's input, not a bug, and an
allocation that the kernel grants lazily (Linux overcommits) could otherwise end the process without a word.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from seqkit.bounds import MAX_WIDTH
from seqkit.errors import InvalidArgumentError
from seqkit.rnn.options import MAX_LAYERS

if TYPE_CHECKING:
    import torch

# Sequences per batch and steps per sequence: the recipes' bound on a batch's size (seqkit.recipe.ranges.MAX_SIZE).
MAX_SIZE = 1 << 24
# Rounds: a median over more is no steadier, and a million rounds of a small layer already take hours.
MAX_ROUNDS = 10_000
# The widest gated cell seqkit ships (LSTM) keeps four gate activations per step and direction for the backward pass.
GATES = 4
LIMITS = {
    "batch": MAX_SIZE,
    "steps": MAX_SIZE,
    "input": MAX_WIDTH,
    "hidden": MAX_WIDTH,
    "layers": MAX_LAYERS,
    "repeat": MAX_ROUNDS,
    "warmup": MAX_ROUNDS,
}
MEMINFO = Path("/proc/meminfo")


def check_size(flag: str, value: int) -> None:
    """Refuse *value* for ``--<flag>`` outside ``[1, LIMITS[flag]]``, naming the option and the range."""
    if value < 1:
        raise InvalidArgumentError(f"--{flag} must be at least 1, got {value}")
    if value > LIMITS[flag]:
        raise InvalidArgumentError(f"--{flag} must be at most {LIMITS[flag]:,}, got {value:,}")


def needed_bytes(
    batch: int, steps: int, input: int, hidden: int, layers: int, directions: int, element_size: int, backward: bool
) -> int:
    """About the bytes one timed call of the layer takes: its weights, the input and, per layer and direction, the
    output and :data:`GATES` gate activations per step (as an LSTM keeps them); twice that with the backward pass
    (a gradient for each). Within a factor of two of the peak measured for GRU and LSTM, on every backend."""
    widths = [input] + [directions * hidden] * (layers - 1)
    weights = sum(directions * GATES * hidden * (width + hidden + 2) for width in widths)
    activations = batch * steps * (input + layers * directions * hidden * (GATES + 1))
    return (weights + activations) * element_size * (2 if backward else 1)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on *device* (a ``torch.device``): the GPU's free memory, or the host's ``MemAvailable``
    (memory that can be had without swapping); None where unknown, and then nothing is refused."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        for line in MEMINFO.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "MemAvailable" and value.split()[0].isdigit():
                return int(value.split()[0]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(shape: str, needed: int, device: torch.device) -> None:
    """Refuse a shape (*shape*: how the user wrote it, e.g. ``--batch 32 --hidden 10000000``) whose tensors need
    more than *device* has free."""
    free = available_bytes(device)
    if free is not None and needed > free:
        raise InvalidArgumentError(
            f"{shape}: the layer's tensors need about {_size(needed)}, more than the {_size(free)} free on {device}; "
            "choose smaller sizes"
        )


def _size(count: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 1024:,.1f} KiB"
