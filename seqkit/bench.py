"""``seqkit bench``: forward+backward time of a seqkit layer per backend, as a ratio to torch.nn, in one process."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.bench_args import DTYPE_NAMES
from seqkit.errors import InvalidArgumentError
from seqkit.layers import create_rnn
from seqkit.recurrent import Recurrent

DTYPES = {name: getattr(torch, full) for name, full in DTYPE_NAMES.items()}


def _parse_options(pairs: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise InvalidArgumentError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key] = {"true": True, "false": False}.get(raw.lower(), raw)
    return options


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _workload(
    module: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor | None, forward_only: bool
) -> Callable[[], None]:
    extras = None
    if isinstance(module, Recurrent) and module.cell.extra_input_sizes():
        # a cell's declared extra per-step inputs, mask-like: their delivery is part of what is timed
        make = torch.Generator().manual_seed(1)
        extras = {
            name: (torch.rand(*x.shape[:2], size, generator=make) > 0.25).to(x.device, x.dtype)
            for name, size in module.cell.extra_input_sizes().items()
        }

    def forward() -> torch.Tensor:
        if lengths is None:
            return module(x, extras=extras)[0] if extras is not None else module(x)[0]
        if isinstance(module, Recurrent):
            return module(x, lengths, extras=extras)[0]
        # what torch.nn users write for variable lengths
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(module(packed)[0], batch_first=True, total_length=x.shape[1])[0]

    def run() -> None:
        if forward_only:
            with torch.no_grad():
                forward()
        else:
            forward().sum().backward()

    return run


def measure(
    contenders: dict[str, Callable[[], None]], repeat: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Median seconds per call of each contender, timed in interleaved rounds so drift hits all alike."""
    for run in contenders.values():
        for _ in range(warmup):
            run()
    _sync(device)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            _sync(device)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def _check(args: argparse.Namespace) -> tuple[torch.device, list[str]]:
    for name in ("batch", "steps", "input", "hidden", "layers", "repeat"):
        if getattr(args, name) < 1:
            raise InvalidArgumentError(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 1:  # the first call pays one-time costs (allocations, kernel selection) that are not speed
        raise InvalidArgumentError(f"--warmup must be at least 1, got {args.warmup}")
    raw = args.backends if args.backends is not None else (None if args.matrix else "auto,reference")
    backends = [b.strip() for b in (raw or "").split(",") if b.strip()]
    if raw is not None and not backends:
        raise InvalidArgumentError(f"--backends must name at least one backend, got {args.backends!r}")
    try:
        device = torch.device(args.device)
    except RuntimeError as error:
        raise InvalidArgumentError(f"--device {args.device!r} is not a device: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError("--device cuda: this torch build or machine has no CUDA device")
    for flag in ("plot", "rows", "deadline"):
        if getattr(args, flag) is not None and not args.matrix:
            raise InvalidArgumentError(f"--{flag} applies to --matrix runs; add --matrix")
    return device, backends


def main(args: argparse.Namespace) -> int:
    if getattr(args, "cells", None):
        raise InvalidArgumentError(
            f"--cells chooses cells for `seqkit bench cells`; `seqkit bench {args.cell}` times one"
        )
    device, backends = _check(args)
    dtype = DTYPES[args.dtype]
    options = _parse_options(args.option)
    if args.matrix:
        return _matrix(args, device, dtype, backends, options)
    shape = dict(num_layers=args.layers, bidirectional=args.bidirectional)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input, device=device, dtype=dtype, requires_grad=not args.forward_only)
    lengths = None
    if args.lengths == "varied":
        lengths = torch.randint(1, args.steps + 1, (args.batch,), generator=torch.Generator().manual_seed(0))
        lengths = lengths.to(device)
    layers, contenders = {}, {}
    for backend in backends:
        layer = create_rnn(args.cell, args.input, args.hidden, backend=backend, **shape, **options).to(device, dtype)
        if layers:
            layer.load_state_dict(next(iter(layers.values())).state_dict())
        layers[backend] = layer
        contenders[backend] = _workload(layer, x, lengths, args.forward_only)
    yardstick = "torch.nn"
    try:
        baseline = next(iter(layers.values())).to_torch()
    except InvalidArgumentError:  # no torch.nn counterpart: a torch.nn.GRU of the same size is the yardstick
        baseline = torch.nn.GRU(args.input, args.hidden, batch_first=True, **shape).to(device, dtype)
        yardstick = "torch.nn.GRU"
    contenders[yardstick] = _workload(baseline, x, lengths, args.forward_only)
    times = measure(contenders, args.repeat, args.warmup, device)
    result = {
        "cell": args.cell,
        "options": options,
        "shape": {"B": args.batch, "T": args.steps, "I": args.input, "H": args.hidden, **shape},
        "lengths": args.lengths,
        "dtype": args.dtype,
        "device": str(device),
        "pass": "forward" if args.forward_only else "forward+backward",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "results": [
            {
                "backend": name,
                "ran": layers[name].backend if name in layers else yardstick,
                "ms": round(seconds * 1e3, 3),
                "ratio_to_torch_nn": round(seconds / times[yardstick], 3),
            }
            for name, seconds in times.items()
        ],
    }
    if args.json:
        write_json(result, args.json, getattr(args, "stdout", None))
        return 0
    s = result["shape"]
    print(
        f"{args.cell} {result['pass']}  B={s['B']} T={s['T']} I={s['I']} H={s['H']} layers={args.layers}"
        f"{' bidirectional' if args.bidirectional else ''}  lengths={args.lengths}"
        f"  {args.dtype} on {device}, {result['threads']} threads"
    )
    wide = max(12, len(yardstick) + 4)
    print(f"{'backend':<12}{'ran':<12}{'ms':>10}{'x ' + yardstick:>{wide}}")
    for row in result["results"]:  # 11 + a space: the 12-character yardstick name keeps a space after it
        print(f"{row['backend']:<11} {row['ran']:<11} {row['ms']:>9.2f}{row['ratio_to_torch_nn']:>{wide}.3f}")
    return 0


def write_json(result: dict | list, target: str, stdout: Any = None) -> None:
    """*result* as JSON into the file *target*, or with ``-`` onto *stdout* (the CLI's, kept for JSON alone)."""
    if target == "-":
        print(json.dumps(result), file=stdout or sys.stdout)
    else:
        with open(target, "w") as stream:
            json.dump(result, stream, indent=1)


def _matrix(
    args: argparse.Namespace, device: torch.device, dtype: torch.dtype, backends: list[str], options: dict
) -> int:
    from seqkit import bench_matrix

    return bench_matrix.main(args, device, dtype, backends or None, options)
