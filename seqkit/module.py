"""The one LightningModule: a task's model, its loss and torchmetrics metrics, the optimizer and schedule."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from seqkit.optim import build_optimizer, build_scheduler
from seqkit.task import Task
from seqkit.tokenize import Tokenizer

STAGE_PREFIX = {"val": "val", "test": "test"}


class SeqkitModule(pl.LightningModule):
    """Composes, never subclasses, the task: Lightning calls these hooks, the task does the work.

    ``extra`` is the plain data stored in every checkpoint under ``"seqkit"`` besides the weights
    (resolved recipe, plugins and versions); the tokenizer's and task's state are added on save, so
    ``seqkit eval`` and ``seqkit predict`` need nothing but the checkpoint.
    """

    def __init__(
        self,
        task: Task,
        model: nn.Module,
        tokenizer: Tokenizer,
        optim: dict[str, Any],
        *,
        monitor: str,
        mode: str,
        seed: int,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.task = task
        self.model = model
        self.tokenizer = tokenizer
        self.optim = optim
        self.monitor = monitor
        self.mode = mode
        self.seed = seed
        self.extra = dict(extra or {})
        self.stage_metrics = nn.ModuleDict({stage: nn.ModuleDict(task.metrics()) for stage in STAGE_PREFIX})

    def forward(self, batch: dict[str, torch.Tensor]) -> Any:
        return self.task.forward_loss(self.model, batch)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Randomness (dropout) depends only on the seed and the step, so a resumed run repeats it exactly.
        torch.manual_seed((self.seed * 1_000_003 + self.global_step) % (2**63))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self.task.forward_loss(self.model, batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=_batch_size(batch))
        return loss

    def _evaluate(self, stage: str, batch: dict[str, torch.Tensor]) -> None:
        loss, outputs = self.task.forward_loss(self.model, batch)
        size = _batch_size(batch)
        metrics = self.stage_metrics[stage]
        self.task.update_metrics(dict(metrics.items()), outputs, batch)
        prefix = STAGE_PREFIX[stage]
        self.log(f"{prefix}/loss", loss, batch_size=size, sync_dist=True)
        self.log_dict({f"{prefix}/{name}": metric for name, metric in metrics.items()}, prog_bar=True, batch_size=size)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("test", batch)

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.model.parameters(), self.optim)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = build_scheduler(optimizer, self.optim, total, self.monitor, self.mode)
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqkit"] = {
            **self.extra,
            "tokenizer": self.tokenizer.state_dict(),
            "task": self.task.state_dict(),
        }


def _batch_size(batch: dict[str, torch.Tensor]) -> int:
    return int(batch["lengths"].shape[0])
