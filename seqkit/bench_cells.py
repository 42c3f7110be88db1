"""``seqkit bench cells``: every registered cell's available kernels, timed as ``seqkit bench CELL`` does, one table."""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import torch

from seqkit.bench import DTYPES, _check, write_json
from seqkit.bench import main as bench_one
from seqkit.errors import InvalidArgumentError
from seqkit.kernels import candidates
from seqkit.plugins import get_plugin_manager


def available_kernels(cell_kind: str, args: argparse.Namespace) -> list[str]:
    """Names of the kernels that can run *cell_kind* (default options) on the requested device and dtype, best first."""
    manager = get_plugin_manager()
    cell = manager.cells.get(cell_kind).build(args.input, args.hidden)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    return [k.name for k in candidates(manager.kernels, cell_kind) if k.supports(cell, device, dtype) is None]


def main(args: argparse.Namespace) -> int:
    """Run ``seqkit bench`` once per registered cell with all of its available kernels; print a table or JSON."""
    _check(args)
    if args.option:
        raise InvalidArgumentError("seqkit bench cells uses each cell's default options; --option names one cell's")
    reports = []
    for kind in get_plugin_manager().cells.names():
        one = argparse.Namespace(**{**vars(args), "cell": kind, "json": "-"})
        one.backends = ",".join(available_kernels(kind, args))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            bench_one(one)
        reports.append(json.loads(out.getvalue()))
    if args.json:
        write_json(reports, args.json)
        return 0
    s = reports[0]["shape"] if reports else {}
    print(
        f"cells forward+backward  B={s.get('B')} T={s.get('T')} I={s.get('I')} H={s.get('H')} layers={args.layers}"
        f"{' bidirectional' if args.bidirectional else ''}  lengths={args.lengths}  {args.dtype} on {args.device}"
    )
    print(f"{'cell':<10}{'backend':<12}{'ms':>10}{'x torch.nn':>12}")
    for report in reports:
        for row in report["results"]:
            ratio = "-" if row["ratio_to_torch_nn"] is None else f"{row['ratio_to_torch_nn']:.3f}"
            print(f"{report['cell']:<10}{row['backend']:<12}{row['ms']:>10.2f}{ratio:>12}")
    return 0
