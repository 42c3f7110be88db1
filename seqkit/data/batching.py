"""Length-bucketed batches with dynamic padding: similar lengths share a batch, order is seeded per epoch."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from seqkit.errors import InvalidArgumentError


class ExampleDataset(Dataset):
    """Encoded examples (whatever the task's ``encode`` returns), indexable."""

    def __init__(self, examples: Sequence[Any]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Any:
        return self.examples[index]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose lengths are close, so padding stays small; sharded for DDP.

    Training (``shuffle=True``) works in *global batches*: all the examples of one optimizer step, over every
    process and every accumulated micro-batch (``batch_size × num_replicas × accumulate``). The indices are
    shuffled with ``seed`` and the epoch, cut into pools of ``pool`` global batches, each pool sorted by
    length and cut into global batches, and these shuffled: an epoch's order depends only on the seed and the
    epoch number, so a resumed run sees the same batches. Each global batch is then cut, in length order,
    into ``num_replicas × accumulate`` micro-batches whose sizes differ by at most one; process ``rank`` takes
    micro-batches ``rank·accumulate … rank·accumulate + accumulate − 1``. So 2 processes with batch b step
    on exactly the examples that 1 process with batch 2b (or batch b and 2 accumulation steps) steps on (the
    module weighs each process's loss by its share, see ``Task.batch_weight``), every
    process gets the same number of batches (DDP steps in lockstep), and no example is dropped. One rule
    when the data does not divide evenly: the epoch's last global batch may be smaller; when it holds fewer
    examples than there are micro-batches, it is topped up by repeating its own examples, so that at most
    ``num_replicas × accumulate − 1`` examples are seen twice in that epoch.

    Evaluation (``shuffle=False``): sorted by length, longest first (so memory errors come early); process
    ``rank`` takes every ``num_replicas``-th example of that order, so shards are disjoint and together
    complete — nothing repeated, which would bias the metrics — and their batch counts differ by at most one.
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
        accumulate: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, num_replicas), got rank={rank}, num_replicas={num_replicas}")
        if accumulate < 1:
            raise ValueError(f"accumulate must be positive, got {accumulate}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool = pool
        self.num_replicas = num_replicas
        self.rank = rank
        self.accumulate = accumulate
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

    @property
    def global_batch_size(self) -> int:
        """Examples per optimizer step over all processes (training)."""
        return self.batch_size * self.num_replicas * self.accumulate

    def global_batches(self) -> list[list[int]]:
        """This epoch's global batches, in order (training), before they are cut into micro-batches."""
        order = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        rng.shuffle(order)
        size = self.global_batch_size
        span = size * self.pool
        batches = []
        for start in range(0, len(order), span):
            pool = sorted(order[start : start + span], key=lambda i: self.lengths[i])
            batches += [pool[i : i + size] for i in range(0, len(pool), size)]
        rng.shuffle(batches)
        return batches

    def _train_batches(self) -> Iterator[list[int]]:
        parts = self.num_replicas * self.accumulate
        first = self.rank * self.accumulate
        for batch in self.global_batches():
            if len(batch) < parts:
                batch = [batch[i % len(batch)] for i in range(parts)]
            yield from _split_evenly(batch, parts)[first : first + self.accumulate]

    def _eval_batches(self) -> list[list[int]]:
        order = sorted(range(len(self.lengths)), key=lambda i: -self.lengths[i])[self.rank :: self.num_replicas]
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: the order is drawn at the first batch, not when the iterator is made. Lightning makes
        # the first epoch's iterator before it calls set_epoch, which after a resume is not epoch 0.
        batches = self._train_batches() if self.shuffle else iter(self._eval_batches())
        if self.resume_at is not None and self.resume_at[0] == self.epoch:
            # __len__ stays the whole epoch's: Lightning counts on from there
            batches = itertools.islice(batches, self.resume_at[1], None)
        self.resume_at = None
        yield from batches

    def __len__(self) -> int:
        count = len(self.lengths)
        if not self.shuffle:
            mine = len(range(self.rank, count, self.num_replicas))
            return -(-mine // self.batch_size)
        size = self.global_batch_size
        span = size * self.pool
        steps = sum(-(-min(span, count - start) // size) for start in range(0, count, span))
        return steps * self.accumulate


def _split_evenly(batch: list[int], parts: int) -> list[list[int]]:
    """*batch* cut in order into *parts* consecutive pieces whose sizes differ by at most one."""
    base, extra = divmod(len(batch), parts)
    pieces, start = [], 0
    for part in range(parts):
        end = start + base + (part < extra)
        pieces.append(batch[start:end])
        start = end
    return pieces


def pad_sequences(
    sequences: Sequence[Any], pad_id: float = 0, *, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, T_max, *F)`` padded with *pad_id* and ``(B,)`` int64 lengths; T_max is this batch's longest.

    Each sequence is a list or tensor of ``T_i`` items of one feature shape ``F``: token ids (``F = ()``,
    int64 by default), or float features such as ``(T_i, F)`` series. *dtype* defaults to the sequences' own
    (int64 for Python ints, float32 for Python floats); empty sequences take the others' feature shape.
    """
    tensors = [s if isinstance(s, torch.Tensor) else torch.as_tensor(s) for s in sequences]
    filled = [s for s in tensors if s.numel() > 0 or s.dim() > 1]
    if dtype is None:
        dtype = filled[0].dtype if filled else torch.long
    features = tuple(filled[0].shape[1:]) if filled else ()
    for index, s in enumerate(tensors):
        if s.numel() > 0 and tuple(s.shape[1:]) != features:
            raise InvalidArgumentError(
                f"pad_sequences: sequence {index} has items of shape {tuple(s.shape[1:])}, "
                f"sequence 0 of {features}; every item of a batch must have one shape"
            )
    lengths = torch.tensor([s.shape[0] if s.dim() else 1 for s in tensors], dtype=torch.long)
    longest = int(lengths.max()) if tensors else 0
    out = torch.full((len(tensors), longest, *features), pad_id, dtype=dtype)
    for row, s in enumerate(tensors):
        if s.numel() > 0:
            out[row, : s.shape[0]] = s.to(dtype)
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
    accumulate: int = 1,
) -> DataLoader:
    sampler = BucketBatchSampler(
        lengths,
        batch_size,
        shuffle=train,
        seed=seed,
        num_replicas=num_replicas,
        rank=rank,
        accumulate=accumulate if train else 1,
    )
    return DataLoader(
        ExampleDataset(examples),
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
