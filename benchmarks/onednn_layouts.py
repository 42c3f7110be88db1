"""The onednn kernel's layouts (directions in one call, batches split by length) before and after, against torch.nn.

    python benchmarks/onednn_layouts.py > layouts.jsonl          # every configuration, one JSON object a line
    python benchmarks/onednn_layouts.py 0 >> layouts.jsonl       # configuration 0 of CONFIGS only

Each configuration times, in interleaved rounds (median of REPEAT, default 15), forward+backward
(``out.sum().backward()``, input requiring grad) of: torch.nn.GRU (packed sequences where lengths vary, what
its users write), the onednn kernel as it runs now, and "before": the same oneDNN calls in the previous
layout (each direction its own call over the whole padded batch), all with the same weights and inputs.
Ratios are to torch.nn's time in the same run. The last line measures a oneDNN call's fixed cost (a one-step
call against a 100-step one), which bounds what running a whole stack in one call could save.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import time

import torch
from seqkit_onednn import kernel
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqkit
from seqkit.bench import measure

REPEAT = int(os.environ.get("REPEAT", "15"))
DEFAULT = dict(B=32, T=100, I=128, H=256, layers=2, bidirectional=True, lengths="varied")
CONFIGS = [
    {},  # the target: 2-layer bidirectional, lengths uniform in [1, T] (seed 0, as `seqkit bench`)
    {"lengths": "full"},
    {"layers": 1, "bidirectional": False},
    {"lengths": "equal 50"},
    {"lengths": "varied changing"},  # a new draw of varied lengths each round (16 in turn): the workspace pool at work
    # the polarity recipe's batches (needs $SEQKIT_DATA): 64 real sentences, a bidirectional GRU of 256
    {"B": 64, "layers": 1, "lengths": "polarity"},
    {"B": 64, "layers": 1, "lengths": "polarity bucketed"},
]


def before(cell, weights, x, lengths, state):
    """The previous layout: a call per direction over the padded batch, reversing within lengths."""
    (h0,) = state

    def scan(d, inputs):
        out, h_last = kernel.direction(cell, weights[d], inputs, h0[d])
        return out, h_last if lengths is None else seqkit.last_step(out, lengths, h0[d])

    out, finals = seqkit.by_direction(len(weights), x, lengths, scan)
    return seqkit.zero_past_end(out, lengths), (torch.stack(finals),)


def stack(layer, run, x, lengths):
    """The layer's stack run layer by layer through *run* (a KernelSpec.run), as the runner does."""
    inputs, per = x, layer.num_directions
    state = layer.init_state(x.shape[0])
    for i, cell in enumerate(layer.cells):
        weights = [layer.weights(i, d) for d in range(per)]
        inputs, _ = run(cell, weights, inputs, lengths, (state[i * per : (i + 1) * per],))
    return inputs


def draw(c):
    """The batches' lengths: one tensor (or None) for every round, or a new draw each round ("changing")."""
    if c["lengths"].startswith("varied"):
        seeds = range(1, 17) if c["lengths"].endswith("changing") else [0]
        return [torch.randint(1, c["T"] + 1, (c["B"],), generator=torch.Generator().manual_seed(s)) for s in seeds]
    if c["lengths"].startswith("polarity"):
        from onednn_gru import polarity_lengths  # this folder is the script's: on sys.path

        lengths = torch.tensor(polarity_lengths(c["B"], bucketed=c["lengths"].endswith("bucketed")))
        c["T"] = int(lengths.max())
        return [lengths]
    if c["lengths"].startswith("equal"):
        return [torch.full((c["B"],), int(c["lengths"].split()[1]))]
    return [None]


def workloads(c):
    batches = draw(c)
    torch.manual_seed(0)
    x = torch.randn(c["B"], c["T"], c["I"], requires_grad=True)
    shape = dict(num_layers=c["layers"], bidirectional=c["bidirectional"])
    layer = seqkit.create_rnn("gru", c["I"], c["H"], backend="onednn", **shape)
    module = layer.to_torch()

    def torch_nn(lengths):
        if lengths is None:
            return module(x)[0]
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(module(packed)[0], batch_first=True, total_length=c["T"])[0]

    runs = {
        "torch.nn": torch_nn,
        "onednn": lambda lengths: layer(x, lengths)[0],
        "onednn before": lambda lengths: stack(layer, before, seqkit.zero_past_end(x, lengths), lengths),
    }

    def timed(f):
        rounds = itertools.cycle(batches)  # each contender sees the same lengths in the same order
        return lambda: f(next(rounds)).sum().backward()

    return {name: timed(f) for name, f in runs.items()}


def call_cost(batch=32, steps=100, inputs=128, hidden=256):
    """Median ms of a one-step and a *steps*-step call (one direction, forward+backward)."""
    layer = seqkit.create_rnn("gru", inputs, hidden, backend="onednn")
    times = {}
    for t in (1, steps):
        x = torch.randn(batch, t, inputs, requires_grad=True)
        h0 = torch.zeros(batch, hidden)
        samples = []
        for _ in range(REPEAT + 2):
            start = time.perf_counter()
            y, h = kernel.direction(layer.cell, layer.weights(0, 0), x, h0)
            (y.sum() + h.sum()).backward()
            samples.append(time.perf_counter() - start)
        times[t] = statistics.median(samples[2:]) * 1e3
    shape = {"B": batch, "I": inputs, "H": hidden}
    return {"what": "call cost", **shape, "ms_1_step": times[1], f"ms_{steps}_steps": times[steps]}


def main(picked: list[int]) -> None:
    load = os.getloadavg()[0]
    for index in picked or range(len(CONFIGS)):
        c = {**DEFAULT, **CONFIGS[index]}
        times = measure(workloads(c), REPEAT, 2, torch.device("cpu"))
        base = times["torch.nn"]
        row = {**c, "threads": torch.get_num_threads(), "load1": round(load, 2), "repeat": REPEAT}
        row.update({f"{name} ms": round(t * 1e3, 1) for name, t in times.items()})
        row.update({f"{name} ratio": round(t / base, 3) for name, t in times.items()})
        print(json.dumps(row), flush=True)
        load = os.getloadavg()[0]
    if not picked:
        print(json.dumps({**call_cost(), "threads": torch.get_num_threads(), "load1": round(load, 2)}), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]])
