"""The onednn GRU kernel against torch.nn.GRU, both formulations, in one process: one JSON object per line.

    python benchmarks/onednn_gru.py > results.jsonl && python benchmarks/onednn_table.py results.jsonl
    python benchmarks/onednn_gru.py 0 7 >> results.jsonl   # again, configurations 0 and 7 of CONFIGS only

Each configuration times, in interleaved rounds (median), forward+backward of: onednn reset-after, onednn
reset-before, native (torch's fused GRU, reset-after) and torch.nn.GRU with the same weights and inputs.
torch.nn has no reset-before GRU, so both formulations are compared with its (reset-after) time.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import torch

import seqkit
from seqkit.bench import _workload, measure

REPEAT = int(os.environ.get("REPEAT", "30"))
DEFAULT = dict(B=32, T=100, I=128, H=256, bidirectional=False, lengths=None, dtype="float32")
CONFIGS = [
    {},
    {"dtype": "bfloat16"},
    {"B": 1},
    {"B": 64},
    {"H": 128},
    {"H": 512},
    # the polarity recipe's shape: embeddings of 128, a bidirectional GRU of 256, batches of 64 real sentences
    {"B": 64, "bidirectional": True, "lengths": "polarity"},
    # the same with a length-bucketing sampler: 64 neighbours in length order
    {"B": 64, "bidirectional": True, "lengths": "polarity bucketed"},
]


def polarity_lengths(batch: int, bucketed: bool = False) -> list[int]:
    """Word counts of *batch* sentences drawn (seed 0) from sentence_polarity, as an unbucketed batch has them;
    *bucketed*: the middle *batch* of 8 * *batch* such sentences sorted by length, as a bucketing sampler's."""
    folder = Path(os.environ.get("SEQKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    counts = []
    for name in ("rt-polarity.neg", "rt-polarity.pos"):
        text = (folder / "sentence_polarity" / name).read_bytes().decode("latin-1")
        counts += [len(line.split()) for line in text.splitlines() if line.strip()]
    if not bucketed:
        return random.Random(0).sample(counts, batch)
    pool = sorted(random.Random(0).sample(counts, 8 * batch))
    return pool[4 * batch : 5 * batch]


def run(config: dict) -> dict:
    c = {**DEFAULT, **config}
    dtype = getattr(torch, c["dtype"])
    lengths = None
    if c["lengths"] in ("polarity", "polarity bucketed"):
        lengths = torch.tensor(polarity_lengths(c["B"], bucketed=c["lengths"] == "polarity bucketed"))
        c["T"] = int(lengths.max())
    torch.manual_seed(0)
    x = torch.randn(c["B"], c["T"], c["I"], dtype=dtype, requires_grad=True)
    shape = dict(bidirectional=c["bidirectional"])
    layers = {
        "onednn reset_after": seqkit.create_rnn("gru", c["I"], c["H"], backend="onednn", **shape),
        "onednn reset_before": seqkit.create_rnn("gru", c["I"], c["H"], backend="onednn", reset_after=False, **shape),
        "native": seqkit.create_rnn("gru", c["I"], c["H"], backend="native", **shape),
    }
    for layer in layers.values():
        layer.load_state_dict(layers["onednn reset_after"].state_dict())
        layer.to(dtype)
    contenders = {name: _workload(layer, x, lengths, False) for name, layer in layers.items()}
    contenders["torch.nn"] = _workload(layers["native"].to_torch(), x, lengths, False)
    if dtype != torch.float32:  # does the low precision pay? the same layer in float32, alongside
        x32 = x.detach().float().requires_grad_()
        fp32 = seqkit.create_rnn("gru", c["I"], c["H"], backend="onednn", **shape)
        contenders["onednn reset_after float32"] = _workload(fp32, x32, lengths, False)
    times = measure(contenders, REPEAT, 3, torch.device("cpu"))
    if lengths is not None:
        low, high, mean = int(lengths.min()), int(lengths.max()), float(lengths.float().mean())
        c["lengths"] = f"{c['lengths']} (seed 0; {low}..{high}, mean {mean:.1f})"
    return {
        "config": c,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "ms": {name: round(t * 1e3, 3) for name, t in times.items()},
        "ratio_to_torch_nn": {name: round(t / times["torch.nn"], 3) for name, t in times.items()},
    }


if __name__ == "__main__":
    chosen = [CONFIGS[int(i)] for i in sys.argv[1:]] or CONFIGS
    for config in chosen:
        print(json.dumps(run(config)), flush=True)
        print(f"done {config}", file=sys.stderr)
