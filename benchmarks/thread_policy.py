"""Benchmark (not a test): a torch.nn.GRU training step with seqkit's thread policy and without, quiet and loaded.

Each measurement is a fresh subprocess (OpenMP reads its wait policy once, at load), interleaved with the other
variants so that changes in the machine's load hit them alike (torch's defaults; seqkit's policy; the policy's
threads from the affinity mask, quota and Slurm alone, without lowering them for busy CPUs; the earlier policy,
which waited passively instead of spinning briefly); competing load is N ``while True: pass`` processes.

    python benchmarks/thread_policy.py --runs 3 --steps 3 --loads 0 1 2 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPE = {"B": 32, "T": 100, "I": 128, "H": 256}
# torch's defaults; seqkit's policy; the policy's threads from the affinity mask, quota and Slurm alone; the
# earlier policy (threads as now, OpenMP wait passive)
VARIANTS = ("none", "policy", "mask", "passive")


def child(variant: str, steps: int) -> None:
    """Time *steps* forward+backward steps after one warm-up; print one JSON line."""
    described = "torch default"
    if variant in ("policy", "passive"):
        from seqkit.threads import apply_environment, apply_torch

        if variant == "passive":
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        apply_environment()  # before torch is imported, as the CLI does
        described = apply_torch().describe()
    elif variant == "mask":  # the policy without sharing busy CPUs: threads from the mask, quota and Slurm only
        from seqkit.threads import apply_environment

        policy = apply_environment()
        import torch

        torch.set_num_threads(policy.threads)
        described = policy.describe()
    import torch

    torch.manual_seed(0)
    gru = torch.nn.GRU(SHAPE["I"], SHAPE["H"], batch_first=True)
    x = torch.randn(SHAPE["B"], SHAPE["T"], SHAPE["I"])
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        out, _ = gru(x)
        out.sum().backward()
        if step:  # the first step warms up the allocator and OpenMP's thread pool
            times.append(time.perf_counter() - start)
    print(json.dumps({"median_s": statistics.median(times), "threads": torch.get_num_threads(), "policy": described}))


def measure(variant: str, steps: int) -> dict[str, object]:
    settings = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "SEQKIT_THREADS", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
    env = {k: v for k, v in os.environ.items() if k not in settings}
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--steps", str(steps)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loads", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps)
        return
    cpus = len(os.sched_getaffinity(0))
    rows = []
    for load in args.loads:
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
        try:
            time.sleep(0.5 if load else 0)
            results: dict[str, list[dict[str, object]]] = {variant: [] for variant in VARIANTS}
            for _ in range(args.runs):
                for variant in VARIANTS:  # interleaved
                    results[variant].append(measure(variant, args.steps))
        finally:
            for process in busy:
                process.kill()
                process.wait()
        row = {"load": load, "cpus": cpus}
        for variant, found in results.items():
            row[variant] = statistics.median(float(r["median_s"]) for r in found)
            row[f"{variant}_threads"] = found[0]["threads"]
            row[f"{variant}_said"] = found[0]["policy"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    quiet = next((r for r in rows if r["load"] == 0), None)
    columns = ["busy processes", "torch default (s)", "earlier policy (s)", "mask only (s)", "policy (s)"]
    columns += ["policy / default", "ideal share (s)", "policy / ideal"]
    print("\n| " + " | ".join([*columns, "policy"]) + " |")
    print("|" + "---|" * (len(columns) + 1))
    for row in rows:
        ideal = ratio = "-"
        if quiet is not None:
            # the fastest quiet time, scaled by the fair share of the cores its threads get beside the busy
            # processes: the ideal does not depend on how many threads a variant takes under load
            best = min(VARIANTS, key=lambda variant: float(quiet[variant]))
            threads = int(quiet[f"{best}_threads"])
            share = min(cpus, threads, cpus * threads / (row["load"] + threads))  # in CPUs
            ideal_s = float(quiet[best]) * min(cpus, threads) / share
            ideal, ratio = f"{ideal_s:.3f}", f"{row['policy'] / ideal_s:.2f}"
        print(
            f"| {row['load']} | {row['none']:.3f} | {row['passive']:.3f} | {row['mask']:.3f} | {row['policy']:.3f} "
            f"| {row['policy'] / row['none']:.2f} | {ideal} | {ratio} | {row['policy_said']} |"
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"shape": SHAPE, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
