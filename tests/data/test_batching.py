"""Length bucketing (each index once, close lengths, evaluation order, DDP shards in lockstep) and padding."""

from __future__ import annotations

import torch

from seqkit.batching import BucketBatchSampler, pad_sequences
from seqkit.tokenize import PAD_ID


def test_bucketing_covers_every_index_once_with_close_lengths():
    lengths = [int(x) for x in torch.randint(1, 200, (1000,), generator=torch.Generator().manual_seed(0))]
    sampler = BucketBatchSampler(lengths, 16, shuffle=True, seed=1, pool=10)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 40  # random batches would spread ~180
    again = list(BucketBatchSampler(lengths, 16, shuffle=True, seed=1, pool=10))
    assert again == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_bucketing_for_evaluation_and_ddp_shards():
    lengths = [3, 9, 1, 7, 5]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False)) == [[1, 3], [4, 0], [2]]
    shards = [list(BucketBatchSampler(list(range(50)), 4, shuffle=True, num_replicas=3, rank=r)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1  # lockstep under DDP
    assert set(i for s in shards for b in s for i in b) == set(range(50))


def test_pad_sequences():
    tokens, lengths = pad_sequences([[5, 6, 7], [8]])
    assert tokens.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]] and lengths.tolist() == [3, 1]
