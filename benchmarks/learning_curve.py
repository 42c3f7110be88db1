"""Plot (not a test): a validation metric against wall time, from the epoch lines ``seqkit train`` prints.

    python benchmarks/learning_curve.py --metric val/bleu --out docs/curve.png LABEL=train.log [LABEL=train.log ...]

Each log's ``seqkit train: epoch N/M: ... val/bleu 30.1, ...; 95.1 s`` lines give one point per epoch at the
cumulative seconds of the epochs so far (training and its validation; data preparation and the final test
are not counted). A ``LABEL=@N:S:V,S:V`` argument instead gives points by hand (seconds:value), for runs
whose logs are gone but whose figures were published.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

EPOCH = re.compile(r"seqkit train: epoch (\d+)/\d+: .*; ([\d.]+) s$")


def points(source: str, metric: str) -> list[tuple[float, float]]:
    """``(minutes, value)`` per epoch of one log file, or of a ``@S:V,S:V`` list."""
    if source.startswith("@"):
        return [(float(s) / 60, float(v)) for s, v in (pair.split(":") for pair in source[1:].split(","))]
    found, elapsed = [], 0.0
    value = re.compile(re.escape(metric) + r" ([\d.]+)")
    for line in Path(source).read_text(encoding="utf-8").splitlines():
        epoch = EPOCH.search(line)
        if epoch:
            elapsed += float(epoch.group(2))
            score = value.search(line)
            if score:
                found.append((elapsed / 60, float(score.group(1))))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metric", default="val/bleu")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default="")
    parser.add_argument("runs", nargs="+", help="LABEL=path/to/train.log or LABEL=@seconds:value,...")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for run in args.runs:
        label, source = run.split("=", 1)
        xy = points(source, args.metric)
        ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o", label=label)
        print(label, " ".join(f"{x:.1f}min:{y:.2f}" for x, y in xy))
    ax.set_xlabel("wall time of training epochs (minutes)")
    ax.set_ylabel(args.metric)
    ax.set_title(args.title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
