"""``seqkit bench``: forward+backward time of a seqkit layer per backend, as a ratio to torch.nn, in one process."""

from __future__ import annotations

import argparse
import platform

import torch

from seqkit.allocator import AllocatorPolicy
from seqkit.allocator import applied as applied_allocator
from seqkit.bench import matrix
from seqkit.bench.timing import DTYPES, _check, _parse_options, _workload, measure, write_json
from seqkit.errors import InvalidArgumentError
from seqkit.rnn.layers import create_rnn


def main(args: argparse.Namespace) -> int:
    if getattr(args, "cells", None):
        raise InvalidArgumentError(
            f"--cells chooses cells for `seqkit bench cells`; `seqkit bench {args.cell}` times one"
        )
    device, backends = _check(args)
    dtype = DTYPES[args.dtype]
    options = _parse_options(args.option)
    if args.matrix:
        return matrix.main(args, device, dtype, backends or None, options)
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
        "allocator": allocator.as_dict() if (allocator := applied_allocator()) is not None else None,
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
        f"{', ' + AllocatorPolicy(**result['allocator']).describe() if result['allocator'] else ''}"
    )
    wide = max(12, len(yardstick) + 4)
    print(f"{'backend':<12}{'ran':<12}{'ms':>10}{'x ' + yardstick:>{wide}}")
    for row in result["results"]:  # 11 + a space: the 12-character yardstick name keeps a space after it
        print(f"{row['backend']:<11} {row['ran']:<11} {row['ms']:>9.2f}{row['ratio_to_torch_nn']:>{wide}.3f}")
    return 0
