"""What a run prints and records about itself: the header (kernels, threads, device, precision, versions), one line
per epoch when no progress bar is shown, and the ``run`` entry of ``metrics.json``."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar

from seqkit.allocator import AllocatorPolicy
from seqkit.allocator import applied as applied_allocator
from seqkit.threads import ThreadPolicy
from seqkit.threads import applied as applied_threads
from seqkit.versions import framework_versions

PREFIX = "seqkit train:"


def on_a_terminal() -> bool:
    """Whether a progress bar would be read by a person: standard output and error are both terminals."""
    return all(stream is not None and stream.isatty() for stream in (sys.stdout, sys.stderr))


def layer_kernels(model: torch.nn.Module) -> dict[str, str]:
    """``{module path: kernel}`` of every recurrent layer in *model*: the kernel of its last run."""
    from seqkit.rnn.recurrent import Recurrent

    return {name or "model": layer.backend for name, layer in model.named_modules() if isinstance(layer, Recurrent)}


class ProgressBar(TQDMProgressBar):
    """Lightning's bar without ``v_num``: the logger's version (``csv``/``tensorboard`` here) is no progress."""

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


class RunReport(pl.Callback):
    """Prints the run header after the first training batch (when each layer's kernel is known, not ``auto``),
    and, when *epoch_lines*, one line per epoch: steps, the epoch's mean training loss, validation metrics, time.

    ``summary()`` is what ``metrics.json`` records under ``run``.
    """

    def __init__(self, epoch_lines: bool) -> None:
        self.epoch_lines = epoch_lines
        self.kernels: dict[str, dict[str, str]] = {}
        self.facts: dict[str, Any] = {}
        # a run resumed mid-epoch starts without on_train_epoch_start: its first line covers the rest of that epoch
        self._epoch_start = time.perf_counter()
        self._epoch_steps = 0
        self._losses: list[float] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self.facts:  # the first of fit, validate and test that runs
            self.facts = self._facts(trainer)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start, self._epoch_steps = time.perf_counter(), trainer.global_step

    @staticmethod
    def _facts(trainer: pl.Trainer) -> dict[str, Any]:
        policy = applied_threads()
        threads = torch.get_num_threads()
        chosen = policy is not None and policy.threads == threads  # else set since, e.g. by a plugin or a test
        return {
            "device": str(trainer.strategy.root_device),
            "devices": trainer.world_size,
            "threads": threads,
            "thread_policy": policy.as_dict() if chosen else None,
            "allocator_policy": allocator.as_dict() if (allocator := applied_allocator()) is not None else None,
            "precision": str(trainer.precision),
            "versions": framework_versions(),
        }

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start, self._epoch_steps, self._losses = time.perf_counter(), trainer.global_step, []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, *args: Any) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            self._losses.append(float(loss.detach()))  # this process's batches: the line is rank 0's view
        if "train" in self.kernels:
            return
        self.kernels["train"] = layer_kernels(pl_module.model)
        if trainer.is_global_zero:
            print(f"{PREFIX} {self.header()}", file=sys.stderr, flush=True)

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if not trainer.sanity_checking and "eval" not in self.kernels:
            self.kernels["eval"] = layer_kernels(pl_module.model)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.epoch_lines or not trainer.is_global_zero:
            return
        losses = self._losses
        shown = {"train/loss (mean)": sum(losses) / len(losses)} if losses else {}
        shown.update(
            (name, float(value))
            for name, value in sorted(trainer.callback_metrics.items())
            if name.startswith("val/") and value.numel() == 1
        )
        values = ", ".join(f"{name} {value:.4f}" for name, value in shown.items())
        steps = trainer.global_step - self._epoch_steps
        seconds = time.perf_counter() - self._epoch_start
        epoch = f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
        print(
            f"{PREFIX} {epoch}: {steps} steps, {values}; {seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    def header(self) -> str:
        """One line: kernels per layer, device, threads, allocator, precision and versions."""
        kernels = ", ".join(f"{name}={kernel}" for name, kernel in self.kernels.get("train", {}).items()) or "none"
        versions = ", ".join(f"{name} {version}" for name, version in self.facts.get("versions", {}).items())
        return (
            f"kernels {kernels}; device {self.facts.get('device')} × {self.facts.get('devices')}, "
            f"{self._threads()}{self._allocator()}, precision {self.facts.get('precision')}; {versions}"
        )

    def _threads(self) -> str:
        """``2 threads (affinity 2 CPUs), OpenMP wait brief spin``, or ``N threads`` when seqkit chose nothing."""
        policy = self.facts.get("thread_policy")
        if policy:
            return ThreadPolicy(**policy).describe()
        threads = self.facts.get("threads")
        return f"{threads} thread{'s' if threads != 1 else ''} (torch default)"

    def _allocator(self) -> str:
        """``, freed memory kept`` or ``, allocator as is (...)`` as the CLI chose; nothing where it chose nothing."""
        policy = self.facts.get("allocator_policy")
        return f", {AllocatorPolicy(**policy).describe()}" if policy else ""

    def summary(self, trainer: pl.Trainer) -> dict[str, Any]:
        """The ``run`` entry of ``metrics.json``. Under ``ddp_spawn`` the callbacks ran in the spawned processes:
        this process knows the facts but not the kernels, and the record says so with no ``kernels`` entries."""
        return {**(self.facts or self._facts(trainer)), "kernels": self.kernels}
