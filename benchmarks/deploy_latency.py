"""Benchmark (not a test): a checkpoint's model in seqkit (torch, eval) against its ONNX export in ONNX Runtime,
CPU latency per batch at batch 1 and 32, one thread each, interleaved rounds, median:

    python benchmarks/deploy_latency.py runs/NAME/best.ckpt [--rounds 50] [--threads 1]

For a sentiment model the graph is the whole classifier; for a translator, the encoder and one decoder step.
Prints a Markdown table and the load average at start and end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from seqkit.checkpoint import load
from seqkit.export.bundle import write_bundle


def _inputs(name: str, example: torch.Tensor, batch: int, steps: int, vocab: int, rng: np.random.Generator):
    """Inputs like *example* for *batch* rows of *steps* tokens: ids in [4, vocab), lengths varied up to *steps*."""
    if name in ("tokens", "source"):
        return torch.from_numpy(rng.integers(4, vocab, size=(batch, steps)))
    if name == "lengths":
        lengths = rng.integers(max(1, steps // 2), steps + 1, size=batch)
        lengths[0] = steps
        return torch.from_numpy(lengths)
    return None


def _once(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="tokens per text (typical sentence)")
    args = parser.parse_args()
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    parts = load(args.checkpoint)
    model = parts.module.model.eval()
    graph = parts.task.export_graphs(model)[0]  # the classifier, or the encoder
    vocab = parts.tokenizer.vocab_size
    folder = Path(tempfile.mkdtemp()) / "bundle"
    write_bundle(parts, Path(args.checkpoint), folder, "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / f"{graph.name}.onnx"), options)
    rng = np.random.default_rng(0)
    print(f"graph '{graph.name}' of {args.checkpoint}: {sum(p.numel() for p in model.parameters()):,} parameters")
    print("| batch | tokens | seqkit ms | ONNX Runtime ms | seqkit / ORT |\n|---:|---:|---:|---:|---:|")
    for batch in (1, 32):
        feeds = {n: _inputs(n, e, batch, args.steps, vocab, rng) for n, e in graph.inputs.items()}
        numpy_feeds = {n: t.numpy() for n, t in feeds.items()}

        def seqkit_run(feeds=feeds):
            with torch.no_grad():
                graph.module(*feeds.values())

        def ort_run(feeds=numpy_feeds):
            session.run(None, feeds)

        seqkit_run(), ort_run()  # warm up
        ours, theirs = [], []
        for _ in range(args.rounds):  # interleaved: both see the same load
            ours.append(_once(seqkit_run))
            theirs.append(_once(ort_run))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"| {batch} | {args.steps} | {a:.2f} | {b:.2f} | {a / b:.2f} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
