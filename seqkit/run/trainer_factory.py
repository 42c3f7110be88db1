"""The one place seqkit makes a Lightning Trainer, and the number of processes it will run on, known beforehand.

``train`` and ``eval`` (and anything else that needs a Trainer) call :func:`new_trainer`: Lightning's refusal of
a setting becomes one line naming the key, its older precision names their current ones, and its fallback from
float16 to bfloat16 on the CPU a note. :func:`world_size` resolves ``trainer.devices`` × ``trainer.num_nodes``
with Lightning's accelerator classes before any Trainer exists, so that the batch plan is an argument of the
Trainer and of the data module rather than something set on them afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.accelerators import AcceleratorRegistry, CUDAAccelerator, MPSAccelerator, XLAAccelerator
from pytorch_lightning.strategies import ParallelStrategy, StrategyRegistry
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from seqkit.environment import EnvironmentMismatch, trainer_refusals
from seqkit.run.trainer_notes import modern_precision, precision_fallback_noted


def new_trainer(section: Mapping[str, Any] | None, notes: list[str], **options: Any) -> pl.Trainer:
    """``pl.Trainer(**options)`` for a recipe whose ``trainer`` section is *section* (what errors name); notes
    for the user (a precision Lightning chose instead of the one asked for) are appended to *notes*."""
    if options.get("precision") is not None:  # Lightning's older names ("16", "bf16") warn that they are discouraged
        options["precision"] = modern_precision(options["precision"])
    with trainer_refusals(section), precision_fallback_noted(section, notes):
        return pl.Trainer(**options)


def world_size(section: Mapping[str, Any] | None) -> int:
    """How many processes a Trainer made with *section* runs on: its devices × ``num_nodes``, resolved as Lightning
    resolves them (``devices: auto``, ``-1``, a count, a list or ``"0,2"`` of indices; ``accelerator: auto``
    picks what this machine has), or 1 for a single-device strategy. A setting Lightning refuses is refused here,
    in one line naming the key, as :func:`new_trainer` would."""
    with trainer_refusals(section):
        return _world_size(section or {})


def _world_size(section: Mapping[str, Any]) -> int:
    nodes = section.get("num_nodes", 1)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise ValueError(f"`num_nodes` must be a positive integer, but got {nodes}.")
    devices = section.get("devices", "auto")
    if devices in ([], 0, "0"):
        raise MisconfigurationException(f"`Trainer(devices={devices!r})` value is not a valid input")
    accelerator = _accelerator(str(section.get("accelerator") or "auto").lower())
    if not accelerator.is_available():
        raise MisconfigurationException(f"`{accelerator.__qualname__}` can not run on your system")
    if devices == "auto":
        interactive = hasattr(sys, "ps1") or bool(sys.flags.interactive)
        # Lightning's own rule: a notebook uses one GPU unless told more
        devices = 1 if interactive and accelerator is CUDAAccelerator else accelerator.auto_device_count()
    count = len(accelerator.get_parallel_devices(accelerator.parse_devices(devices)))
    strategy = section.get("strategy", "auto")
    name = strategy.lower() if isinstance(strategy, str) else None
    cls = StrategyRegistry[name]["strategy"] if name in StrategyRegistry else None  # its .get makes one
    if isinstance(cls, type) and not issubclass(cls, ParallelStrategy):
        return 1  # single_device, single_xla: one process whatever the devices say
    return count * nodes


def _accelerator(name: str) -> Any:
    """The accelerator class Lightning uses for *name*; ``auto`` and ``gpu`` chosen in Lightning's order."""
    if name == "auto":
        chosen = next((c for c in (XLAAccelerator, MPSAccelerator, CUDAAccelerator) if c.is_available()), None)
        return chosen or AcceleratorRegistry["cpu"]["accelerator"]
    if name == "gpu":
        return MPSAccelerator if MPSAccelerator.is_available() else CUDAAccelerator
    if name not in AcceleratorRegistry:
        known = ", ".join(["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())])
        raise ValueError(
            f"You selected an invalid accelerator name: `accelerator={name!r}`. Available names are: {known}."
        )
    return AcceleratorRegistry[name]["accelerator"]


def check_world_size(trainer: pl.Trainer, planned: int) -> None:
    """The Trainer runs on the processes the batch plan was made for; a launcher that started another number (a
    torchrun ``WORLD_SIZE``, ``srun``'s tasks) than ``trainer.devices`` × ``trainer.num_nodes`` is refused."""
    if trainer.world_size != planned:
        raise EnvironmentMismatch(
            f"trainer: Lightning runs {trainer.world_size} processes, but trainer.devices × trainer.num_nodes make "
            f"{planned}: set them to the processes the launcher starts"
        )
