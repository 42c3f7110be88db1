"""Render benchmarks/onednn_gru.py's JSON lines as the Markdown table in docs/benchmarks.md."""

from __future__ import annotations

import json
import sys

COLUMNS = ["onednn reset_after", "onednn reset_before", "native", "torch.nn"]


def main(path: str) -> None:
    print("| B | T | I | H | dtype | direction, lengths | " + " | ".join(COLUMNS) + " |")
    print("|---:|---:|---:|---:|---|---|" + "---:|" * len(COLUMNS))
    with open(path) as lines:
        for line in lines:
            run = json.loads(line)
            c = run["config"]
            where = ("bidirectional" if c["bidirectional"] else "forward") + f", {c['lengths'] or 'full'}"
            cells = [f"{run['ms'][k]:.1f} ms ({run['ratio_to_torch_nn'][k]:.2f}×)" for k in COLUMNS]
            print(f"| {c['B']} | {c['T']} | {c['I']} | {c['H']} | {c['dtype']} | {where} | " + " | ".join(cells) + " |")
            for extra in sorted(set(run["ms"]) - set(COLUMNS)):
                cell = f"{run['ms'][extra]:.1f} ms ({run['ratio_to_torch_nn'][extra]:.2f}×)"
                print(f"|  |  |  |  |  | {extra} | {cell} | | | |")


if __name__ == "__main__":
    main(sys.argv[1])
