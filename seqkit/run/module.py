"""The one LightningModule: a task's model, its loss and torchmetrics metrics, the optimizer and schedule."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn

from seqkit.data.tokenize import Tokenizer
from seqkit.errors import SeqkitError
from seqkit.recipe.optim import build_optimizer, build_scheduler, fuses_under
from seqkit.rnn.recurrent import Recurrent
from seqkit.run.distributed import check_same_on_every_process
from seqkit.run.resilience import NonFiniteLossError
from seqkit.task import Task

log = logging.getLogger("seqkit.run.module")  # its name before the move into seqkit.run
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
        tokenizer: Tokenizer | None,
        optim: dict[str, Any],
        *,
        monitor: str,
        mode: str,
        seed: int,
        extra: dict[str, Any] | None = None,
        on_nonfinite: str = "stop",
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
        self.on_nonfinite = on_nonfinite
        self.skipped_batches = 0
        self.plateau: Any = None
        self._plateau_state: dict[str, Any] | None = None
        self.stage_metrics = nn.ModuleDict({stage: nn.ModuleDict(task.metrics()) for stage in STAGE_PREFIX})
        # the mean loss over every example, whichever process saw it (Lightning's sync_dist would average
        # the processes' means, which differ in size when the examples do not divide evenly)
        self.stage_loss = nn.ModuleDict({stage: torchmetrics.MeanMetric() for stage in STAGE_PREFIX})

    def forward(self, batch: dict[str, torch.Tensor]) -> Any:
        return self.task.forward_loss(self.model, batch)

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        sizes = {name: len(split) for name, split in data.examples.items()} if data is not None else {}
        check_same_on_every_process(
            self.trainer.strategy,
            self.trainer.world_size,
            {
                "vocabularies": self.tokenizer.state_dict() if self.tokenizer is not None else None,
                "task states": self.task.state_dict(),
                "splits": sizes,
            },
        )
        world = self.trainer.world_size
        small = [f"{name} ({count})" for name, count in sizes.items() if name != "train" and 0 < count < world]
        if small:
            # a process with no examples would skip evaluation while the others wait for its metrics
            raise SeqkitError(
                f"{', '.join(small)}: fewer examples than the {world} processes: expected at least one each"
            )

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Randomness (dropout) depends only on the seed, the epoch, the batch and the process, so a resumed run
        # repeats it exactly (the optimizer step would repeat under gradient accumulation), and the processes
        # of a DDP run draw different masks for their different examples.
        rank = self.trainer.global_rank if self._trainer is not None else 0
        seed = (self.seed * 1_000_003 + self.current_epoch * 100_003 + batch_idx + rank * 7_919_993) % (2**63)
        # Only the generators this process draws from: torch.manual_seed also queues every other backend's
        # seeding with a formatted stack trace each, about 1 ms a step inside Lightning (a tenth of a small step).
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed(seed)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss, _ = self.task.forward_loss(self.model, batch)
        # averaged over the processes, so the logged loss is the global batch's (one all-reduce per step)
        distributed = self._trainer is not None and self.trainer.world_size > 1
        nonfinite = not bool(torch.isfinite(loss).all())
        if distributed:
            # every process skips or stops together: one alone would leave the others waiting in backward
            nonfinite = self.trainer.strategy.reduce_boolean_decision(nonfinite, all=False)
        if nonfinite:
            where = f"step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx})"
            # this process's own loss may be fine: then another process's was not
            value = "not finite on another process" if bool(torch.isfinite(loss).all()) else str(float(loss))
            if self.on_nonfinite == "skip_batch":
                # Returning None skips backward and the optimizer step: the weights stay as they were.
                self.skipped_batches += 1
                log.warning("non-finite training loss (%s) at %s: batch skipped", value, where)
                return None
            raise NonFiniteLossError(
                f"training loss is {value} at {where}; stopped before it reached the weights, and "
                "the last checkpoint (last.ckpt) is the last good one. Lower optim.lr, set "
                "trainer.gradient_clip_val, or set on_nonfinite=skip_batch to skip such batches"
            )
        self.log("train/loss", loss, prog_bar=True, batch_size=_batch_size(batch), sync_dist=distributed)
        if distributed:
            # DDP averages the processes' gradients, which weighs each process's mean loss alike; weighted by
            # its share of the step's examples (or tokens), the step follows the mean over the whole global
            # batch, as on one device.
            weight = torch.tensor(float(self.task.batch_weight(batch)), device=loss.device)
            total = self.trainer.strategy.reduce(weight.clone(), reduce_op="sum")
            loss = loss * weight * self.trainer.world_size / total.clamp(min=1)
        penalty = self.weight_penalty()
        if penalty is None:
            return loss
        self.log("train/l2_penalty", penalty, batch_size=_batch_size(batch), sync_dist=distributed)
        return loss + penalty

    def weight_penalty(self) -> torch.Tensor | None:
        """The recurrent layers' L2 penalties (``model.cell.kernel_l2``/``recurrent_l2``), added to the training
        loss only: validation and test report the task's loss alone."""
        terms = [m.penalty() for m in self.model.modules() if isinstance(m, Recurrent)]
        terms = [t for t in terms if t is not None]
        return torch.stack(terms).sum() if terms else None

    def _evaluate(self, stage: str, batch: dict[str, torch.Tensor]) -> None:
        loss, outputs = self.task.forward_loss(self.model, batch)
        size = _batch_size(batch)
        metrics = self.stage_metrics[stage]
        self.task.update_metrics(dict(metrics.items()), outputs, batch)
        prefix = STAGE_PREFIX[stage]
        self.stage_loss[stage].update(loss.detach(), self.task.batch_weight(batch))
        self.log(f"{prefix}/loss", self.stage_loss[stage], batch_size=size)
        self.log_dict({f"{prefix}/{name}": metric for name, metric in metrics.items()}, prog_bar=True, batch_size=size)

    def _start(self, stage: str) -> None:
        # Lightning resets logged metrics when an epoch ends, but under ddp_spawn the process that evaluates
        # after fit unpickles the metrics with the training run's last, unfinished state.
        self.stage_loss[stage].reset()
        self.task.begin_stage(stage)
        for metric in self.stage_metrics[stage].values():
            metric.reset()

    def on_validation_epoch_start(self) -> None:
        self._start("val")

    def on_test_epoch_start(self) -> None:
        self._start("test")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate("test", batch)

    def configure_optimizers(self) -> Any:
        fuse = fuses_under(getattr(self.trainer, "precision", ""))
        optimizer = build_optimizer(self.model.parameters(), self.optim, fuse=fuse)
        estimated = self.trainer.estimated_stepping_batches
        if not math.isfinite(estimated) and self.optim["schedule"] in ("cosine", "linear"):
            raise SeqkitError(
                f"optim.schedule={self.optim['schedule']} decays over the whole run, which has no end: "
                "set trainer.max_epochs or trainer.max_steps"
            )
        total = max(1, int(estimated)) if math.isfinite(estimated) else 1
        scheduler = build_scheduler(optimizer, self.optim, total, self.monitor, self.mode)
        if self.optim["schedule"] == "plateau":
            # Stepped here, after each validation and before its checkpoints are written (Lightning steps it
            # after them, so a resumed run would miss a step), and saved with the checkpoint by seqkit.
            self.plateau = scheduler["scheduler"]
            if self._plateau_state is not None:
                self.plateau.load_state_dict(self._plateau_state)
            return optimizer
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}

    def on_validation_epoch_end(self) -> None:
        if self.plateau is None or self.trainer.sanity_checking or self.trainer.state.fn != "fit":
            return
        metric = self.trainer.callback_metrics.get(self.monitor)
        if metric is not None:
            self.plateau.step(float(metric))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._plateau_state = checkpoint.get("seqkit_plateau")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqkit"] = {
            **self.extra,
            "tokenizer": self.tokenizer.state_dict() if self.tokenizer is not None else None,
            "task": self.task.state_dict(),
        }
        if self.plateau is not None:
            checkpoint["seqkit_plateau"] = self.plateau.state_dict()


def _batch_size(batch: dict[str, torch.Tensor]) -> int:
    return int(batch["lengths"].shape[0])
