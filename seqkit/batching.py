"""Length-bucketed batches with dynamic padding: similar lengths share a batch, order is seeded per epoch."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class ExampleDataset(Dataset):
    """Encoded examples (whatever the task's ``encode`` returns), indexable."""

    def __init__(self, examples: Sequence[Any]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Any:
        return self.examples[index]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose lengths are close, so padding stays small.

    Training (``shuffle=True``): the indices are shuffled with ``seed`` and the epoch, cut into pools of
    ``pool`` batches, each pool sorted by length and cut into batches, and the batches shuffled — so an
    epoch's order depends only on the seed and the epoch number, and a resumed run sees the same batches.
    Evaluation: sorted by length, longest first (the largest batch first, so memory errors come early).
    Under DDP each of ``num_replicas`` processes takes every ``num_replicas``-th batch from ``rank``.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        pool: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool = pool
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.resume_at: tuple[int, int] | None = None  # (epoch, batches already trained in it)

    def resume(self, epoch: int, batches: int) -> None:
        """Skip the first *batches* of *epoch*'s (this process's) batches once: a run resumed mid-epoch
        continues with the very batch it would have trained next."""
        self.resume_at = (int(epoch), int(batches))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> BucketBatchSampler:
        # Lightning calls set_epoch on ``batch_sampler.sampler`` before each epoch (and after a resume).
        return self

    def _batches(self) -> list[list[int]]:
        order = list(range(len(self.lengths)))
        if not self.shuffle:
            order.sort(key=lambda i: -self.lengths[i])
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        rng.shuffle(order)
        span = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), span):
            pool = sorted(order[start : start + span], key=lambda i: self.lengths[i])
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def _count(self) -> int:
        if not self.shuffle:
            return -(-len(self.lengths) // self.batch_size)
        span = self.batch_size * self.pool
        return sum(-(-min(span, len(self.lengths) - s) // self.batch_size) for s in range(0, len(self.lengths), span))

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: the order is drawn at the first batch, not when the iterator is made. Lightning makes
        # the first epoch's iterator before it calls set_epoch, which after a resume is not epoch 0.
        batches = self._batches()
        if self.num_replicas > 1:
            # Every process gets the same number of batches (DDP steps in lockstep): pad by wrapping around.
            per_rank = -(-len(batches) // self.num_replicas)
            batches = (batches * 2)[: per_rank * self.num_replicas]
            batches = batches[self.rank :: self.num_replicas]
        if self.resume_at is not None and self.resume_at[0] == self.epoch:
            batches = batches[self.resume_at[1] :]  # __len__ stays the whole epoch's: Lightning counts on from there
        self.resume_at = None
        yield from batches

    def __len__(self) -> int:
        return -(-self._count() // self.num_replicas)


def pad_sequences(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, T_max)`` int64 ids padded with *pad_id* and ``(B,)`` int64 lengths; T_max is this batch's longest."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    out = torch.full((len(sequences), int(lengths.max()) if len(sequences) else 0), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out, lengths


def make_loader(
    examples: Sequence[Any],
    lengths: Sequence[int],
    collate: Callable[[list[Any]], Any],
    batch_size: int,
    *,
    train: bool,
    seed: int,
    num_workers: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
) -> DataLoader:
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=train, seed=seed, num_replicas=num_replicas, rank=rank)
    return DataLoader(
        ExampleDataset(examples),
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
