"""Benchmark (not a test): every built-in cell through the generic kernel, its loop as one autograd node or plain.

For each cell variant (its own ``project``, and the same cell written as a step alone) the generic kernel runs
forward+backward with its time loop as one autograd node with eager step graphs (``SEQKIT_GENERIC_LOOP=node``),
with the step's graphs compiled by inductor (``SEQKIT_GENERIC_LOOP=compiled``, what the default ``auto`` runs
from a shape's 200th run on) and as the plain step loop
(``SEQKIT_GENERIC_LOOP=plain``: the kernel before), timed in interleaved rounds with a ``torch.nn.GRU`` of the
same shape, so the ratios do not drift with the machine's load; wall and process CPU time, each the median of
the rounds, and the first call's wall time (where ``compiled`` compiles; ``--cold-cache`` starts inductor's
on-disk cache empty, in a temporary directory). The thread and allocator policies are the CLI's: the threads
seqkit would choose here (``SEQKIT_THREADS=1`` for one) with OpenMP's brief spin, and freed memory kept on glibc
(``SEQKIT_MALLOC=system`` times glibc's own behaviour).

    SEQKIT_THREADS=1 python benchmarks/generic_loop.py --repeat 9 [--cells gru,lstm] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable

from seqkit import allocator, threads  # before torch: the policies seqkit's CLI applies

POLICY = allocator.apply()
threads.apply_environment()  # OpenMP reads its wait policy when torch loads it

import torch  # noqa: E402

from seqkit.bench.cells import _step_only, variants  # noqa: E402
from seqkit.bench.timing import _workload  # noqa: E402
from seqkit.rnn.layers import create_rnn  # noqa: E402


def toggled(run: Callable[[], None], mode: str, gemm: str) -> Callable[[], None]:
    def timed() -> None:
        os.environ["SEQKIT_GENERIC_LOOP"], os.environ["SEQKIT_GENERIC_GEMM"] = mode, gemm
        try:
            run()
        finally:
            os.environ.pop("SEQKIT_GENERIC_LOOP", None)
            os.environ.pop("SEQKIT_GENERIC_GEMM", None)

    return timed


def measure(contenders: dict[str, Callable[[], None]], repeat: int, warmup: int) -> tuple[dict, dict, dict, dict]:
    """Median wall and process CPU seconds per call and minor page faults, in interleaved rounds, and the first
    call's wall seconds. On a loaded machine the CPU time is the steadier figure: it leaves out the time other
    processes held the core. Page faults are memory the allocator handed back to the kernel and took again."""
    first: dict[str, float] = {}
    for name, run in contenders.items():
        for i in range(warmup):
            start = time.perf_counter()
            run()
            if i == 0:
                first[name] = time.perf_counter() - start
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    faults: dict[str, list[int]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            start, start_cpu, start_faults = time.perf_counter(), time.process_time(), _minor_faults()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            faults[name].append(_minor_faults() - start_faults)
    medians = [{n: statistics.median(v) for n, v in values.items()} for values in (wall, cpu, faults)]
    return (*medians, first)  # type: ignore[return-value]


def _whole(module: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> Callable[[], None]:
    return _workload(module, x, lengths, False)


def per_call(module: torch.nn.Module, x: torch.Tensor, lengths: None) -> Callable[[], None]:
    """Forward+backward on a batch of another length each call: 11 lengths from 0.8x to 1.2x *x*'s, in turn (the
    batches a length-bucketed loader hands out)."""
    make = torch.Generator().manual_seed(1)
    batches = [torch.randn(x.shape[0], n, x.shape[2], generator=make) for n in _lengths_around(x.shape[1])]
    runs = [_workload(module, b.requires_grad_(), None, False) for b in batches]
    turn = iter(range(1 << 62))
    return lambda: runs[next(turn) % len(runs)]()


def _lengths_around(steps: int) -> list[int]:
    return sorted({max(1, round(steps * (0.8 + 0.04 * k))) for k in range(11)})


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("batch", 32), ("steps", 100), ("input", 128), ("hidden", 256), ("repeat", 9)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--cells", default=None, help="comma-separated cell kinds (default: every registered cell)")
    parser.add_argument(
        "--lengths",
        choices=("full", "varied", "per-call"),
        default="full",
        help="varied: lengths within a batch; per-call: each call another sequence length, as bucketed batches",
    )
    parser.add_argument("--modes", default="node,compiled,plain", help="SEQKIT_GENERIC_LOOP values to time")
    parser.add_argument("--gemms", default="mkldnn", help="SEQKIT_GENERIC_GEMM values to time (mkldnn,aten)")
    parser.add_argument("--cold-cache", action="store_true", help="inductor's on-disk cache empty at the start")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    thread_policy = threads.apply_torch()
    print(f"threads: {thread_policy.describe() if thread_policy else torch.get_num_threads()}", flush=True)
    load_start = os.getloadavg()
    if args.cold_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="seqkit-bench-inductor-")
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input, requires_grad=True)
    lengths = None
    workload = per_call if args.lengths == "per-call" else _whole
    if args.lengths == "varied":
        lengths = torch.randint(1, args.steps + 1, (args.batch,), generator=torch.Generator().manual_seed(0))
    rows = []
    for kind, options in variants(args.cells):
        layer = create_rnn(kind, args.input, args.hidden, backend="generic", **options)
        forms = {"": layer, " (step only)": _step_only(layer, "generic")}
        contenders = {"torch.nn.GRU": workload(torch.nn.GRU(args.input, args.hidden, batch_first=True), x, lengths)}
        for suffix, module in forms.items():
            for mode in args.modes.split(","):
                for gemm in args.gemms.split(","):
                    label = f"{mode}{'' if gemm == 'mkldnn' else ', ' + gemm}{suffix}"
                    contenders[label] = toggled(workload(module, x, lengths), mode, gemm)
        # per-call: every length run once first, so each graph's variants are compiled before the timed rounds
        warmup = len(_lengths_around(args.steps)) + 1 if args.lengths == "per-call" else 2
        wall, cpu, faults, first = measure(contenders, args.repeat, warmup)
        label = kind + "".join(f" {k}={v}" for k, v in options.items())
        for name in contenders:
            row = {"cell": label, "loop": name, "ms": round(wall[name] * 1e3, 2), "cpu_ms": round(cpu[name] * 1e3, 2)}
            row["ratio_to_torch_nn_gru"] = round(wall[name] / wall["torch.nn.GRU"], 3)
            row["cpu_ratio_to_torch_nn_gru"] = round(cpu[name] / cpu["torch.nn.GRU"], 3)
            row["first_call_ms"] = round(first[name] * 1e3, 1)
            row["minor_faults"] = round(faults[name])
            rows.append(row)
            print(
                f"{label:<24}{name:<28}{row['ms']:>8.1f} ms {row['ratio_to_torch_nn_gru']:>6.3f}x"
                f"{row['cpu_ms']:>8.1f} cpu ms {row['cpu_ratio_to_torch_nn_gru']:>6.3f}x"
                f"  first call {row['first_call_ms']:>8.1f} ms{row['minor_faults']:>7} faults",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as stream:
            info = {
                "threads": torch.get_num_threads(),
                "thread_policy": thread_policy.as_dict() if thread_policy else None,
                "allocator": POLICY.as_dict(),
                "torch": torch.__version__,
                "load": [load_start, os.getloadavg()],
            }
            json.dump({**info, "rows": rows}, stream, indent=1)


if __name__ == "__main__":
    main()
