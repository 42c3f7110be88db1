"""Training speed in examples per second over all processes, validation excluded, logged every epoch."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch


class ExampleThroughput(pl.Callback):
    """Logs ``train/examples_per_s``: the epoch's training examples, summed over every DDP process, divided
    by its wall time less the time spent validating. ``rates`` keeps each epoch's figure (rank 0 prints them)."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self._start = 0.0
        self._paused = 0.0
        self._examples = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._paused, self._examples = time.perf_counter(), 0.0, 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._examples += int(batch["lengths"].shape[0])

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validation_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._paused += time.perf_counter() - self._validation_start

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        elapsed = max(time.perf_counter() - self._start - self._paused, 1e-9)
        count = torch.tensor(float(self._examples), device=pl_module.device)  # NCCL reduces GPU tensors only
        examples = trainer.strategy.reduce(count, reduce_op="sum")
        rate = float(examples) / elapsed
        self.rates.append(rate)
        # every process has the same count and nearly the same time: their mean is the figure
        pl_module.log("train/examples_per_s", rate, sync_dist=True)
