"""Encoded splits → Lightning data loaders: length-bucketed, seeded per epoch, sharded per DDP process."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from seqkit.data.batching import make_loader
from seqkit.errors import SeqkitError
from seqkit.task import Task

# What state_dict() records (each a count of 0 or more); a checkpoint's data state holding anything else is refused.
STATE_KEYS = ("epoch", "steps", "epoch_steps", "global_batch", "accumulate")


class SeqkitData(pl.LightningDataModule):
    """``examples``: split name → the task's encoded examples. Each process reads its own share of the batches."""

    def __init__(
        self,
        task: Task,
        examples: dict[str, list[Any]],
        *,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.task = task
        self.examples = examples
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.resume_at: tuple[int, int] | None = None
        self._train_sampler: Any = None

    def loader(self, split: str, *, train: bool = False) -> DataLoader:
        examples = self.examples[split]
        trainer = getattr(self, "trainer", None)
        replicas = trainer.world_size if trainer is not None else 1
        rank = trainer.global_rank if trainer is not None else 0
        # the sampler forms whole optimizer steps' batches, so it must know how many micro-batches make one
        accumulate = trainer.accumulate_grad_batches if trainer is not None else 1
        return make_loader(
            examples,
            [self.task.length(e) for e in examples],
            self.task.collate,
            self.batch_size if train else self.eval_batch_size,
            train=train,
            seed=self.seed,
            num_workers=self.num_workers,
            num_replicas=replicas,
            rank=rank,
            accumulate=accumulate,
        )

    def train_dataloader(self) -> DataLoader:
        loader = self.loader("train", train=True)
        self._train_sampler = loader.batch_sampler
        self._resume_sampler()
        return loader

    def _resume_sampler(self) -> None:
        if self.resume_at is None or self._train_sampler is None:
            return
        epoch, steps = self.resume_at
        # optimizer steps, not batches: a run resumed on another number of processes (with the same global
        # batch) skips the same examples
        self._train_sampler.resume(epoch, steps * self._train_sampler.accumulate)

    def state_dict(self) -> dict[str, Any]:
        """Where training stands in its epoch, saved with every checkpoint (Lightning calls this).

        ``steps`` counts the optimizer steps of ``epoch`` that are trained (each one global batch, over all
        processes); a checkpoint written at an epoch's end holds all of them, and resuming starts the next
        epoch."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.state.fn != "fit":
            return {}
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        accumulate = trainer.accumulate_grad_batches
        return {
            "epoch": int(trainer.current_epoch),
            "steps": int(progress.processed) // accumulate,
            "epoch_steps": int(trainer.num_training_batches) // accumulate,
            "global_batch": self.batch_size * trainer.world_size * accumulate,
            "accumulate": accumulate,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "epoch" not in state or "steps" not in state:
            return
        trainer = getattr(self, "trainer", None)
        mid_epoch = int(state["steps"]) < int(state.get("epoch_steps", state["steps"] + 1))
        if mid_epoch and trainer is not None:
            now = (
                self.batch_size * trainer.world_size * trainer.accumulate_grad_batches,
                trainer.accumulate_grad_batches,
            )
            then = (state.get("global_batch", now[0]), state.get("accumulate", now[1]))
            if now != then:
                # Other global batches are other examples per step, and Lightning counts the epoch's batches in
                # the saved run's units: the rest of the epoch would repeat some examples and skip others.
                raise SeqkitError(
                    f"resume: the checkpoint stopped in the middle of epoch {state['epoch']} with a global batch of "
                    f"{then[0]} ({then[1]} accumulated); this run's would be {now[0]} ({now[1]} accumulated). "
                    "Expected the same data.batch_size × devices × accumulation (data.global_batch_size keeps the "
                    "global batch, but resuming mid-epoch also needs the same accumulation), or resume from a "
                    "checkpoint written at an epoch's end"
                )
        self.resume_at = (int(state["epoch"]), int(state["steps"]))
        self._resume_sampler()

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
