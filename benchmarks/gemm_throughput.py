"""Benchmark (not a test): how fast this CPU's float32 GEMMs run through torch's default path and through oneDNN.

    OMP_NUM_THREADS=1 python benchmarks/gemm_throughput.py [--json out.json]

The generic kernel's time for an LSTM is mostly GEMMs (its step's recurrent product, the weight gradient, the
input projection), which ``aten::mm``/``addmm`` send to the BLAS torch was built with (MKL on x86). oneDNN,
which ``torch.nn.LSTM`` uses on CPU for its fused layer, picks its code by the CPU's instruction set. Where the
two differ, a cell through ``generic`` and torch.nn's layers are not timed on equal terms. For each shape
(B=32, T=100, I=128, H=256, as in ``generic_loop.py``): ``F.linear``, oneDNN's ``mkldnn_linear`` on oneDNN
tensors, and oneDNN with its weight reordered ahead (``_linear_pointwise``), median of 7 rounds, in GFLOP/s;
then the gradient GEMMs in MKL's form and in the form ``seqkit.linear`` and the generic loop send to oneDNN, and
``torch.nn.LSTM`` against ``torch.nn.GRU`` forward+backward, interleaved (median of 15).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

BATCH, STEPS, INPUT, HIDDEN = 32, 100, 128, 256
SHAPES = {  # (rows, inner, outputs) of y = x Wᵀ
    "gru step, h W_hhᵀ": (BATCH, HIDDEN, 3 * HIDDEN),
    "lstm step, h W_hhᵀ": (BATCH, HIDDEN, 4 * HIDDEN),
    "lstm input projection, x W_ihᵀ": (BATCH * STEPS, INPUT, 4 * HIDDEN),
}


def seconds(run: Callable[[], object], calls: int, rounds: int = 7) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def paths(m: int, k: int, n: int) -> dict[str, Callable[[], object]]:
    """The ways to compute ``x Wᵀ`` for an ``(m, k)`` x and an ``(n, k)`` W that this torch build has."""
    x, w = torch.randn(m, k), torch.randn(n, k)
    found: dict[str, Callable[[], object]] = {"F.linear": lambda: F.linear(x, w)}
    if torch.backends.mkldnn.is_available():
        xm, wm = x.to_mkldnn(), w.to_mkldnn()
        packed = torch.ops.mkldnn._reorder_linear_weight(w, m)
        found["oneDNN"] = lambda: torch._C._nn.mkldnn_linear(xm, wm)
        found["oneDNN, weight reordered"] = lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
    return found


def gemms() -> list[dict]:
    rows = []
    for name, (m, k, n) in SHAPES.items():
        calls = 20 if m > 1000 else 500
        row = {"shape": name, "m_k_n": [m, k, n]}
        for path, run in paths(m, k, n).items():
            took = seconds(run, calls)
            row[path] = {"us": round(took * 1e6, 1), "gflops": round(2 * m * k * n / took / 1e9, 1)}
        rows.append(row)
        print(name, {p: v for p, v in row.items() if isinstance(v, dict)}, flush=True)
    return rows


def gradients() -> list[dict]:
    """The input projection's two gradient GEMMs (``seqkit.linear``'s backward) and the weight gradient of a
    chunk of steps (the loop's), each as MKL's ``mm`` and in the form sent to oneDNN; and each path's fixed cost
    on a GEMM too small to measure anything else (2 x 8 -> 32)."""
    linear = torch.ops.mkldnn._linear_pointwise.default
    gen = torch.Generator().manual_seed(0)
    rows = BATCH * STEPS
    g, x, w = (torch.randn(*s, generator=gen) for s in ((rows, 4 * HIDDEN), (rows, INPUT), (4 * HIDDEN, INPUT)))
    chunk_g, chunk_h = torch.randn(256, 4 * HIDDEN, generator=gen), torch.randn(256, HIDDEN, generator=gen)
    tiny_x, tiny_w = torch.randn(2, 8, generator=gen), torch.randn(32, 8, generator=gen)
    cases = {
        "projection dX = G W": (lambda: torch.mm(g, w), lambda: linear(g, w.t(), None, "none", [], "")),
        "projection dW = Gᵀ X": (lambda: torch.mm(g.t(), x), lambda: linear(x.t(), g.t(), None, "none", [], "").t()),
        "chunk of 8 steps, dW_hh = Gᵀ H": (
            lambda: torch.mm(chunk_g.t(), chunk_h),
            lambda: linear(chunk_h.t(), chunk_g.t(), None, "none", [], "").t(),
        ),
        "fixed cost, 2 x 8 -> 32": (
            lambda: torch.mm(tiny_x, tiny_w.t()),
            lambda: linear(tiny_x, tiny_w, None, "none", [], ""),
        ),
    }
    result = []
    for name, (mkl, onednn) in cases.items():
        calls = 20 if "projection" in name else 500
        row = {"gemm": name, "mm_us": round(seconds(mkl, calls) * 1e6, 1)}
        row["onednn_us"] = round(seconds(onednn, calls) * 1e6, 1)
        result.append(row)
        print(row, flush=True)
    return result


def lstm_against_gru(repeat: int = 15) -> dict:
    torch.manual_seed(0)
    x = torch.randn(BATCH, STEPS, INPUT, requires_grad=True)
    layers = {
        name: kind(INPUT, HIDDEN, batch_first=True) for name, kind in (("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM))
    }

    def step(layer: torch.nn.Module) -> None:
        out, _ = layer(x)
        out.sum().backward()

    for layer in layers.values():
        step(layer)
    times: dict[str, list[float]] = {name: [] for name in layers}
    for _ in range(repeat):
        for name, layer in layers.items():
            start = time.perf_counter()
            step(layer)
            times[name].append(time.perf_counter() - start)
    gru, lstm = statistics.median(times["gru"]), statistics.median(times["lstm"])
    print(f"torch.nn.GRU {gru * 1e3:.1f} ms, torch.nn.LSTM {lstm * 1e3:.1f} ms: {lstm / gru:.3f}x", flush=True)
    return {
        "torch.nn.GRU ms": round(gru * 1e3, 1),
        "torch.nn.LSTM ms": round(lstm * 1e3, 1),
        "ratio": round(lstm / gru, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    load_start = os.getloadavg()
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__, "gemms": gemms()}
    if torch.backends.mkldnn.is_available():
        result["gradients"] = gradients()
    result["lstm_against_gru"] = lstm_against_gru()
    result["load"] = [load_start, os.getloadavg()]
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(result, stream, indent=1)


if __name__ == "__main__":
    main()
