"""Benchmark (not a test): wall time of light ``seqkit`` commands, each run in a fresh process, median of several.

With ``--before DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/before main``) each command is
also run against that tree's ``seqkit`` and plugins (through ``PYTHONPATH``), interleaved, so that both see
the same load:

    python benchmarks/cli_startup.py --runs 5 [--before /tmp/before] [--validate quickstart,sentiment/gru_polarity]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = (["--help"], ["--version"], ["plugins"], ["ls"])


def run_once(argv: list[str], tree: str | None) -> float:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join([tree, os.path.join(tree, "plugins")])
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import sys; from seqkit.cli import main; sys.exit(main())", *argv],
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: `python -c` puts the working folder first on sys.path
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="DIR", help="a checkout to compare against")
    parser.add_argument(
        "--validate",
        default="quickstart",
        metavar="RECIPES",
        help="comma-separated recipes to time `seqkit validate` on (default: quickstart)",
    )
    args = parser.parse_args()
    commands = [*COMMANDS, *(["validate", recipe] for recipe in args.validate.split(",") if recipe)]
    trees = {"after": None, **({"before": args.before} if args.before else {})}
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| command | " + " | ".join(f"{name} (s)" for name in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for argv in commands:
        times: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():  # interleaved
                times[name].append(run_once(argv, tree))
        medians = " | ".join(f"{statistics.median(found):.2f}" for found in times.values())
        print(f"| `seqkit {' '.join(argv)}` | {medians} |", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
