"""Turn the GPU matrix rows (`--rows` JSON lines, as gpu_check.sh writes them) into docs tables and a plot.

    python benchmarks/gpu_report.py gpu-results/rows.jsonl [--plot speed.png]

Prints one Markdown table per dtype and formulation: µs/step of cuDNN and each Triton kernel, and each
kernel's speed over cuDNN's ("× cuDNN", above 1 is faster), forward and forward+backward, with the largest
error against float64. With --plot: speed over cuDNN against batch size, one panel per hidden size.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict

BASELINE = "cudnn"
CONTENDERS = ("triton", "triton_step", "generic")


def load(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    for row in rows:
        row["reset_after"] = bool((row.get("options") or {}).get("reset_after", True))
    return rows


def timings(rows: list[dict]) -> dict[tuple, dict[str, dict]]:
    """(dtype, reset_after, H, T, B, pass) -> backend -> row; a failed shape keeps its error under 'error'."""
    found: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        if "error" in row:
            key = (row.get("dtype"), row["reset_after"], row["H"], row["T"], row["B"], "-")
            found[key]["error"] = row
            continue
        key = (row["dtype"], row["reset_after"], row["H"], row["T"], row["B"], row["pass"])
        found[key][row["backend"]] = row
    return found


def speed_over_baseline(group: dict[str, dict], backend: str) -> float | None:
    """The baseline's time over *backend*'s (above 1: faster); torch.nn stands in where cudnn was not timed."""
    base = group.get(BASELINE) or group.get("torch.nn")
    if backend not in group or base is None:
        return None
    return base["us_per_step"] / group[backend]["us_per_step"]


def tables(rows: list[dict]) -> str:
    found = timings(rows)
    out = []
    for (dtype, reset_after), keys in itertools.groupby(sorted(found), key=lambda k: k[:2]):
        out.append(f"\n**{dtype}, reset_after={str(reset_after).lower()}**\n")
        heads = " | ".join(f"{c} × cuDNN" for c in CONTENDERS)
        out.append(f"| H | T | B | pass | cuDNN µs/step | {heads} | error |")
        out.append("|---:|---:|---:|---|---:|" + "---:|" * len(CONTENDERS) + "---|")
        for key in keys:
            group = found[key]
            H, T, B, label = key[2:]
            if "error" in group:
                out.append(f"| {H} | {T} | {B} | failed | {group['error']['error'][:80]} |" + " |" * len(CONTENDERS))
                continue
            base = group.get(BASELINE) or group.get("torch.nn")
            speeds = [speed_over_baseline(group, c) for c in CONTENDERS]
            errors = ", ".join(f"{b} {r['max_error_vs_fp64']:.1e}" for b, r in sorted(group.items()) if b != "torch.nn")
            cells = " | ".join("—" if s is None else f"{s:.2f}" for s in speeds)
            out.append(f"| {H} | {T} | {B} | {label} | {base['us_per_step'] if base else '—'} | {cells} | {errors} |")
    return "\n".join(out)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    found = timings(rows)
    hiddens = sorted({k[2] for k in found})
    figure, panels = pyplot.subplots(1, len(hiddens), squeeze=False, figsize=(4.5 * len(hiddens), 3.5))
    for panel, H in zip(panels[0], hiddens):
        series: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for key, group in sorted(found.items()):
            dtype, reset_after, h, T, B, label = key
            if h != H or label == "-":
                continue
            for backend in CONTENDERS:
                speed = speed_over_baseline(group, backend)
                if speed is not None:
                    name = f"{backend} {dtype}{'' if reset_after else ' reset-before'} T={T} {label}"
                    series[name].append((B, speed))
        for name, points in sorted(series.items()):
            panel.plot(*zip(*sorted(points)), marker="o", label=name)
        panel.axhline(1.0, color="grey", linewidth=0.8)
        panel.set(xscale="log", xlabel="batch", ylabel="speed over cuDNN", title=f"H={H}")
        panel.legend(fontsize="xx-small")
    figure.tight_layout()
    figure.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows")
    parser.add_argument("--plot", metavar="PNG")
    args = parser.parse_args(argv)
    rows = load(args.rows)
    print(tables(rows))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
