"""Render `seqkit bench --json` lines as the Markdown table in docs/benchmarks.md."""

from __future__ import annotations

import json
import sys


def describe(run: dict) -> str:
    shape = run["shape"]
    text = f"{run['cell']}"
    if run["options"]:
        text += " (" + ", ".join(f"{k}={v}" for k, v in run["options"].items()) + ")"
    text += f", {shape['num_layers']} layer{'s' if shape['num_layers'] > 1 else ''}"
    if shape["bidirectional"]:
        text += ", bidirectional"
    return text + f", lengths {run['lengths']}, {run['pass']}"


def main(path: str) -> None:
    print("| configuration | backend (ran) | ms | × torch.nn |")
    print("|---|---|---:|---:|")
    with open(path) as lines:
        for line in lines:
            run = json.loads(line)
            for row in run["results"]:
                ratio = "—" if row["ratio_to_torch_nn"] is None else f"{row['ratio_to_torch_nn']:.2f}"
                name = row["backend"] if row["backend"] == row["ran"] else f"{row['backend']} ({row['ran']})"
                print(f"| {describe(run)} | {name} | {row['ms']:.1f} | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1])
