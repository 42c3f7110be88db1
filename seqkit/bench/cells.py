"""``seqkit bench cells``: every registered cell with each kernel that runs it, timed against ``torch.nn.GRU``.

Each cell also runs written as a step alone (its input projection inside the step, as a new cell plugin often
is), through the ``generic`` kernel and the ``reference`` step loop, so the table shows what the generic
path gives a cell that has no kernel of its own. Each variant is timed in interleaved rounds together with a
``torch.nn.GRU`` of the same shape, so its ratios do not drift with the machine's load.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from seqkit.bench.timing import DTYPES, _check, _workload, measure, write_json
from seqkit.errors import InvalidArgumentError
from seqkit.plugin.lazy import resolved
from seqkit.plugin.manager import get_plugin_manager
from seqkit.rnn import kernels
from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.kernels import candidates
from seqkit.rnn.layers import create_rnn
from seqkit.rnn.recurrent import Recurrent

YARDSTICK = "torch.nn.GRU"


class StepOnly(Cell):
    """*inner*'s math with its ``project`` moved into ``step``: the same cell, written as a step alone."""

    def __init__(self, inner: Cell) -> None:
        super().__init__(inner.input_size, inner.hidden_size)
        self.inner = inner
        self.state_names = inner.state_names
        self.takes_position = inner.takes_position

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return self.inner.state_sizes

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.inner.parameter_shapes()

    def parameter_roles(self) -> dict[str, str]:
        return self.inner.parameter_roles()

    def extra_input_sizes(self) -> dict[str, int]:
        return self.inner.extra_input_sizes()

    def step(self, params: Params, u_t: torch.Tensor, state: State, **keywords: Any) -> tuple[torch.Tensor, State]:
        return self.inner.step(params, self.inner.project(params, u_t), state, **keywords)


def available_kernels(cell_kind: str, args: argparse.Namespace, options: dict[str, Any] | None = None) -> list[str]:
    """Names of the kernels that can run *cell_kind* on the requested device and dtype, best first."""
    manager = get_plugin_manager()
    cell = manager.cells.get(cell_kind).build(args.input, args.hidden, **(options or {}))
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    return [k.name for k in candidates(manager.kernels, cell_kind) if k.supports(cell, device, dtype) is None]


def variants(only: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(cell kind, options) for every registered cell (or those named in *only*, ``a,b``), and the extra
    formulations worth a row."""
    cells = get_plugin_manager().cells
    kinds = cells.names() if only is None else [cells.get(k.strip()).name for k in only.split(",") if k.strip()]
    if not kinds:
        raise InvalidArgumentError(f"--cells must name at least one registered cell, got {only!r}")
    return [(kind, dict(opts)) for kind in kinds for opts in [{}, *_declared_variants(cells.get(kind).build)]]


def _declared_variants(build: Any) -> tuple[dict[str, Any], ...]:
    """The option sets a cell declares worth a row of their own (``Cell.bench_variants``)."""
    target = resolved(build)
    return tuple(getattr(target, "bench_variants", ())) if isinstance(target, type) else ()


def _step_only(layer: Recurrent, backend: str) -> Recurrent:
    cells: list[Cell] = [StepOnly(cell) for cell in layer.cells]
    shape = dict(bidirectional=layer.bidirectional, dropout=layer.dropout, backend=backend)
    copy = Recurrent(f"{layer.kind}_step_only", cells, kernels.candidates([], layer.kind), **shape)
    copy.load_state_dict(layer.state_dict())
    return copy.to(next(layer.parameters()))


def bench_variant(args: argparse.Namespace, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Time one cell variant with each available kernel, step-only through generic and reference, and the GRU."""
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    shape = dict(num_layers=args.layers, bidirectional=args.bidirectional)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.steps, args.input, device=device, dtype=dtype, requires_grad=True)
    lengths = None
    if args.lengths == "varied":
        lengths = torch.randint(1, args.steps + 1, (args.batch,), generator=torch.Generator().manual_seed(0))
        lengths = lengths.to(device)
    layers: dict[str, Recurrent] = {}
    for backend in available_kernels(kind, args, options):
        layer = create_rnn(kind, args.input, args.hidden, backend=backend, **shape, **options)
        layers[backend] = layer.to(device, dtype)
        layers[backend].load_state_dict(next(iter(layers.values())).state_dict())
    first = next(iter(layers.values()))
    for backend in (kernels.GENERIC.name, kernels.REFERENCE.name):
        layers[f"{backend} (step only)"] = _step_only(first, backend)
    contenders = {name: _workload(layer, x, lengths, False) for name, layer in layers.items()}
    gru = torch.nn.GRU(args.input, args.hidden, batch_first=True, **shape).to(device, dtype)
    contenders[YARDSTICK] = _workload(gru, x, lengths, False)
    times = measure(contenders, args.repeat, args.warmup, device)
    rows = []
    for name, seconds in times.items():
        plain = times["reference (step only)" if name.endswith("(step only)") else "reference"]
        rows.append(
            {
                "backend": name,
                "ran": layers[name].backend if name in layers else YARDSTICK,
                "ms": round(seconds * 1e3, 3),
                "ratio_to_torch_nn_gru": round(seconds / times[YARDSTICK], 3),
                "speedup_over_step_loop": None if name == YARDSTICK else round(plain / seconds, 2),
            }
        )
    return {"cell": kind, "options": options, "results": rows}


def main(args: argparse.Namespace) -> int:
    """Every cell variant with each of its kernels; print a table or JSON."""
    _check(args)
    if args.option:
        raise InvalidArgumentError("seqkit bench cells runs each cell's default options; --option names one cell's")
    if args.forward_only:
        raise InvalidArgumentError("seqkit bench cells times forward+backward; --forward-only applies to one cell")
    reports = [bench_variant(args, kind, options) for kind, options in variants(args.cells)]
    shape = {"B": args.batch, "T": args.steps, "I": args.input, "H": args.hidden, "layers": args.layers}
    summary = {"shape": shape, "bidirectional": args.bidirectional, "lengths": args.lengths, "dtype": args.dtype}
    summary.update(device=args.device, threads=torch.get_num_threads(), torch=torch.__version__, cells=reports)
    if args.json:
        write_json(summary, args.json, getattr(args, "stdout", None))
        return 0
    print(
        f"cells forward+backward  B={args.batch} T={args.steps} I={args.input} H={args.hidden} layers={args.layers}"
        f"{' bidirectional' if args.bidirectional else ''}  lengths={args.lengths}  {args.dtype} on {args.device}"
    )
    print(f"{'cell':<28}{'backend':<22}{'ran':<12}{'ms':>10}{'x GRU':>8}{'x faster':>10}")
    for report in reports:
        label = report["cell"] + "".join(f" {k}={v}" for k, v in report["options"].items())
        for row in report["results"]:
            faster = "-" if row["speedup_over_step_loop"] is None else f"{row['speedup_over_step_loop']:.2f}"
            print(
                f"{label:<28}{row['backend']:<22}{row['ran']:<12}{row['ms']:>10.2f}"
                f"{row['ratio_to_torch_nn_gru']:>8.3f}{faster:>10}"
            )
    print(f"x GRU: time / {YARDSTICK}'s; x faster: the step loop's time (reference, same form) / this time")
    return 0
