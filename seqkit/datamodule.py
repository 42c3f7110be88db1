"""Encoded splits → Lightning data loaders: length-bucketed, seeded per epoch, sharded per DDP process."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from seqkit.batching import make_loader
from seqkit.task import Task


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
        return self.loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
