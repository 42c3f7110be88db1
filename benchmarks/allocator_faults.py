"""Benchmark (not a test): page faults and time of a recurrent layer's forward+backward with freed memory kept or not.

Each configuration runs in a process of its own (glibc's thresholds hold for a whole process), alternately, so
that both see the machine in the same states: ``SEQKIT_MALLOC=keep`` (what seqkit's CLI does, on glibc) and
``SEQKIT_MALLOC=system`` (glibc's own behaviour). In each process ``torch.nn.GRU`` and the seqkit layer run
after a few warm-up calls; reported per call: wall milliseconds, minor page faults, system CPU milliseconds.

    OMP_NUM_THREADS=1 python benchmarks/allocator_faults.py --cell ln_lstm --rounds 3 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_CHILD = r"""
import json, os, resource, sys, time
from seqkit import allocator
policy = allocator.apply()
import torch
from seqkit.rnn.layers import create_rnn
cell, backend, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)
x = torch.randn(32, 100, 128, requires_grad=True)
layers = {"torch.nn.GRU": torch.nn.GRU(128, 256, batch_first=True), cell: create_rnn(cell, 128, 256, backend=backend)}
def run(layer):
    layer(x)[0].sum().backward()
for layer in layers.values():
    for _ in range(3):
        run(layer)
rows = {}
for name, layer in layers.items():
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(calls):
        run(layer)
    after = resource.getrusage(resource.RUSAGE_SELF)
    rows[name] = {
        "ms": (time.perf_counter() - start) / calls * 1e3,
        "minor_faults": (after.ru_minflt - before.ru_minflt) / calls,
        "sys_ms": (after.ru_stime - before.ru_stime) / calls * 1e3,
    }
print(json.dumps({"policy": policy.as_dict(), "rows": rows}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="ln_lstm")
    parser.add_argument("--backend", default="generic")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # glibc's own: each run sets its own
    results = []
    for round_ in range(args.rounds):
        for setting in ("system", "keep"):
            command = [sys.executable, "-c", _CHILD, args.cell, args.backend, str(args.calls)]
            done = subprocess.run(command, env={**env, "SEQKIT_MALLOC": setting}, capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr)
            result = {"round": round_ + 1, "SEQKIT_MALLOC": setting, "load": os.getloadavg(), **json.loads(done.stdout)}
            results.append(result)
            rows = result["rows"]
            ratio = rows[args.cell]["ms"] / rows["torch.nn.GRU"]["ms"]
            shown = "  ".join(
                f"{name} {row['ms']:6.1f} ms {row['minor_faults']:6.0f} faults {row['sys_ms']:5.1f} sys ms"
                for name, row in rows.items()
            )
            print(f"round {round_ + 1} {setting:<6} {shown}  ratio {ratio:.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(
                {
                    "cell": args.cell,
                    "backend": args.backend,
                    "threads_env": os.environ.get("OMP_NUM_THREADS"),
                    "results": results,
                },
                stream,
                indent=1,
            )


if __name__ == "__main__":
    main()
