"""Optimizers (adam, adamw, sgd) and learning-rate schedules (constant, cosine, linear with warmup; step; plateau)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import torch

from seqkit.bounds import Probability

Schedule = Literal["constant", "cosine", "linear", "step", "plateau"]


def optim_options(
    kind: Literal["adam", "adamw", "sgd"] = "adamw",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    betas: tuple[Probability, Probability] = (0.9, 0.999),  # torch's Adam refuses a beta outside [0, 1)
    eps: float = 1e-8,
    momentum: float = 0.0,
    nesterov: bool = False,
    schedule: Schedule = "constant",
    warmup_steps: int = 0,
    warmup_ratio: float = 0.0,
    min_lr: float = 0.0,
    step_size: int = 1,
    gamma: float = 0.1,
    patience: int = 2,
    factor: float = 0.5,
) -> dict[str, Any]:
    """The recipe's ``optim`` section with its defaults: the signature is the schema ``seqkit validate`` checks.

    ``warmup_steps`` (or ``warmup_ratio`` of all steps) ramps the rate linearly from 0 for constant, cosine
    and linear schedules, which then decay per step to ``min_lr`` (cosine, linear) over the run.
    ``step`` multiplies the rate by ``gamma`` every ``step_size`` epochs; ``plateau`` by ``factor``
    after ``patience`` epochs without improvement of the monitored metric.
    """
    return dict(locals())


def build_optimizer(
    params: Iterable[torch.nn.Parameter], options: dict[str, Any], fuse: bool = True
) -> torch.optim.Optimizer:
    """The optimizer *options* describe; Adam and AdamW use torch's fused kernel when *fuse* and it can."""
    kind, lr, wd = options["kind"], options["lr"], options["weight_decay"]
    if kind == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=options["momentum"], nesterov=options["nesterov"], weight_decay=wd
        )
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    params = list(params)
    betas, eps = tuple(options["betas"]), options["eps"]
    return cls(params, lr=lr, betas=betas, eps=eps, weight_decay=wd, fused=(fuse and _fusable(params)) or None)


def fuses_under(precision: Any) -> bool:
    """Whether a run in *precision* (Lightning's) may fuse its Adam: Lightning clips gradients itself under mixed
    precision, which a fused optimizer (unscaling inside its step) refuses."""
    return "mixed" not in str(precision)


def _fusable(params: list[Any]) -> bool:
    """Whether torch's fused Adam kernel can step *params*: one pass over each tensor instead of a dozen.

    On CPU it took 9 ms instead of 47 ms for 2.4 M parameters (the polarity recipe's model), a third of
    every training step. It runs floating-point tensors on CPU and CUDA (torch >= 2.4).
    """
    tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
    return bool(tensors) and all(t.device.type in ("cpu", "cuda") and t.is_floating_point() for t in tensors)


def build_scheduler(
    optimizer: torch.optim.Optimizer, options: dict[str, Any], total_steps: int, monitor: str, mode: str
) -> dict[str, Any] | None:
    """Lightning's ``lr_scheduler`` configuration for *options*, or None for a constant rate without warmup."""
    schedule = options["schedule"]
    if schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=options["step_size"], gamma=options["gamma"])
        return {"scheduler": sched, "interval": "epoch"}
    if schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=options["factor"], patience=options["patience"], min_lr=options["min_lr"]
        )
        return {"scheduler": sched, "interval": "epoch", "monitor": monitor}
    warmup = options["warmup_steps"] or int(options["warmup_ratio"] * total_steps)
    if schedule == "constant" and warmup == 0:
        return None
    base_lr = options["lr"]
    floor = options["min_lr"] / base_lr if base_lr > 0 else 0.0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
        return floor + (1 - floor) * decay

    return {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, factor), "interval": "step"}
