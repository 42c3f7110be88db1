"""What every bench shares: dtypes by name, the checked arguments, the timed workload and interleaved timing."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqkit.bench.args import DTYPE_NAMES
from seqkit.bench.limits import check_memory, check_size, needed_bytes
from seqkit.errors import InvalidArgumentError
from seqkit.rnn.recurrent import Recurrent

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
    contenders: dict[str, Callable[[], object]], repeat: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Median seconds per call of each contender, timed in interleaved rounds so drift hits all alike: the one
    timing helper of every bench (``seqkit bench``, ``--cells``, ``--matrix``)."""
    for run in contenders.values():
        for _ in range(warmup):
            run()
    _sync(device)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            samples[name].append(_seconds(run, device))
    return {name: statistics.median(times) for name, times in samples.items()}


def _seconds(run: Callable[[], object], device: torch.device) -> float:
    """One call's seconds: CUDA events on a GPU (no host sync inside the timed region), else a wall clock."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def _check(args: argparse.Namespace) -> tuple[torch.device, list[str]]:
    # --warmup too is at least 1: the first call pays one-time costs (allocations, kernel selection) that are not speed
    for name in ("batch", "steps", "input", "hidden", "layers", "repeat", "warmup"):
        check_size(name, getattr(args, name))
    raw = args.backends if args.backends is not None else (None if args.matrix else "auto,reference")
    backends = [b.strip() for b in (raw or "").split(",") if b.strip()]
    if raw is not None and not backends:
        raise InvalidArgumentError(f"--backends must name at least one backend, got {args.backends!r}")
    try:
        device = torch.device(args.device)
    except RuntimeError as error:
        raise InvalidArgumentError(f"--device {args.device!r} is not a device: {error}") from None
    if device.type not in ("cpu", "cuda"):  # the kernels seqkit times run on these (others fail deep in torch)
        raise InvalidArgumentError(f"--device {args.device}: expected cpu or cuda (cuda:N), the devices seqkit runs on")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(f"--device {args.device}: this torch build or machine has no CUDA device")
    for flag in ("plot", "rows", "deadline"):
        if getattr(args, flag) is not None and not args.matrix:
            raise InvalidArgumentError(f"--{flag} applies to --matrix runs; add --matrix")
    if not args.matrix:  # the matrix's shapes come from its own options: seqkit.bench.matrix checks each
        sizes = (args.batch, args.steps, args.input, args.hidden, args.layers)
        directions = 2 if args.bidirectional else 1
        needed = needed_bytes(*sizes, directions, DTYPES[args.dtype].itemsize, backward=not args.forward_only)
        shape = " ".join(f"--{flag} {value}" for flag, value in zip(("batch", "steps", "input", "hidden"), sizes))
        check_memory(f"{shape} --layers {args.layers}{' --bidirectional' if directions == 2 else ''}", needed, device)
    return device, backends


def write_json(result: dict | list, target: str, stdout: Any = None) -> None:
    """*result* as JSON into the file *target*, or with ``-`` onto *stdout* (the CLI's, kept for JSON alone)."""
    if target == "-":
        print(json.dumps(result), file=stdout or sys.stdout)
    else:
        with open(target, "w") as stream:
            json.dump(result, stream, indent=1)
