"""Variable-length batches: validating lengths, reversing within them, masking past them, last real step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

from seqkit.errors import InvalidArgumentError

F = TypeVar("F")


def normalize_lengths(lengths: Tensor | None, batch: int, steps: int, device: torch.device) -> Tensor | None:
    """Check ``lengths`` against a ``(B, T, ...)`` batch; returns int64 on *device*, or None when all equal T."""
    if lengths is None:
        return None
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.numel() != batch:
        raise InvalidArgumentError(f"lengths must have shape ({batch},) to match the batch, got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise InvalidArgumentError(f"lengths must be an integer tensor, got {lengths.dtype}")
    lengths = lengths.to(device=device, dtype=torch.long)
    if batch == 0:
        return None
    low, high = int(lengths.min()), int(lengths.max())
    if low < 0 or high > steps:
        raise InvalidArgumentError(f"lengths must lie in [0, {steps}] (the input has {steps} steps), got {low}..{high}")
    if low == steps:
        return None
    return lengths


def valid_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` bool: True where ``t < lengths[b]``."""
    return torch.arange(steps, device=lengths.device) < lengths[:, None]


def reverse_within(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``(B, T, F)`` over its first ``lengths[b]`` steps; padding stays in place.

    Its own inverse, so the same call maps a reverse-direction output back to input order.
    """
    if lengths is None:
        return x.flip(1)
    steps = x.shape[1]
    t = torch.arange(steps, device=x.device)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, index[:, :, None].expand(-1, -1, x.shape[2]))


def zero_past_end(out: Tensor, lengths: Tensor | None) -> Tensor:
    """Zero ``(B, T, F)`` outputs at and past each sequence's end (``where``, so NaN padding cannot leak)."""
    if lengths is None:
        return out
    return torch.where(valid_mask(lengths, out.shape[1])[:, :, None], out, out.new_zeros(()))


def last_step(out: Tensor, lengths: Tensor | None, initial: Tensor) -> Tensor:
    """``(B, F)`` value of ``(B, T, F)`` at each sequence's last real step; *initial* for empty sequences."""
    if lengths is None:
        return out[:, -1]
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, out.shape[2])
    last = out.gather(1, index).squeeze(1)
    return torch.where((lengths > 0)[:, None], last, initial)


def by_direction(
    directions: int, x: Tensor, lengths: Tensor | None, scan: Callable[[int, Tensor], tuple[Tensor, F]]
) -> tuple[Tensor, list[F]]:
    """Run ``scan(direction, inputs) -> (outputs, final)`` forward in time once per direction.

    The reverse direction (1) scans each sequence reversed within its own length, so it starts at the real
    end; its outputs are put back in input order. Returns the outputs concatenated on the last dimension
    and each direction's final value.
    """
    outputs, finals = [], []
    for direction in range(directions):
        reverse = direction == 1
        out, final = scan(direction, reverse_within(x, lengths) if reverse else x)
        outputs.append(reverse_within(out, lengths) if reverse else out)
        finals.append(final)
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)), finals
