"""Render benchmarks/onednn_gru.py's JSON lines as the Markdown table in docs/benchmarks.md.

Lines of the same configuration (several runs appended to one file) are combined: the median of their
ratios to torch.nn, with the range over runs when there is more than one.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

COLUMNS = ["onednn reset_after", "onednn reset_before", "native", "torch.nn"]


def cell(ratios: list[float]) -> str:
    text = f"{statistics.median(ratios):.2f}"
    if len(ratios) > 1:
        text += f" ({min(ratios):.2f}–{max(ratios):.2f})"
    return text


def main(path: str) -> None:
    runs: dict[str, list[dict]] = defaultdict(list)
    with open(path) as lines:
        for line in lines:
            run = json.loads(line)
            runs[json.dumps(run["config"], sort_keys=True)].append(run)
    extras = sorted({k for group in runs.values() for run in group for k in run["ms"]} - set(COLUMNS))
    print("| B | T | I | H | dtype | direction, lengths | runs | " + " | ".join([*COLUMNS, *extras]) + " |")
    print("|---:|---:|---:|---:|---|---|---:|" + "---:|" * (len(COLUMNS) + len(extras)))
    for group in runs.values():
        c = group[0]["config"]
        where = ("bidirectional" if c["bidirectional"] else "forward") + f", {c['lengths'] or 'full'}"
        ratios = [
            cell([r["ratio_to_torch_nn"][k] for r in group]) if k in group[0]["ms"] else "" for k in [*COLUMNS, *extras]
        ]
        print(
            f"| {c['B']} | {c['T']} | {c['I']} | {c['H']} | {c['dtype']} | {where} | {len(group)} | "
            + " | ".join(ratios)
            + " |"
        )


if __name__ == "__main__":
    main(sys.argv[1])
