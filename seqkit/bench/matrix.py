"""``seqkit bench CELL --matrix``: every available kernel over a shape matrix, forward and forward+backward."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
import platform
import time
from collections.abc import Callable

import torch

from seqkit.bench.limits import LIMITS, check_memory, needed_bytes
from seqkit.bench.timing import measure, write_json
from seqkit.errors import InvalidArgumentError
from seqkit.plugin.manager import get_plugin_manager
from seqkit.rnn import kernels
from seqkit.rnn.layers import create_rnn
from seqkit.rnn.recurrent import Recurrent

# B, H, T: the GPU matrix the Triton GRU is tuned on; on CPU a small one that finishes in seconds
MATRIX = {
    "cuda": ((1, 8, 32, 64, 256), (256, 512, 1024), (64, 256)),
    "cpu": ((1, 8), (64,), (16,)),
}
TORCH_NN = "torch.nn"  # torch's own module: cuDNN on CUDA, the baseline ratios are taken against


def axes(args: argparse.Namespace, device: torch.device) -> tuple[tuple[int, ...], ...]:
    """The B, H and T values: ``--matrix-batch/-hidden/-steps`` where given, else the device's defaults."""
    default = MATRIX["cuda" if device.type == "cuda" else "cpu"]
    chosen = []
    for flag, values in zip(("batch", "hidden", "steps"), default):
        raw = getattr(args, f"matrix_{flag}")
        try:
            parsed = tuple(int(v) for v in raw.split(",")) if raw else values
        except ValueError:
            raise InvalidArgumentError(f"--matrix-{flag} expects a comma list of integers, got {raw!r}") from None
        if not parsed or min(parsed) < 1:
            raise InvalidArgumentError(f"--matrix-{flag} values must be at least 1, got {raw!r}")
        if max(parsed) > LIMITS[flag]:
            raise InvalidArgumentError(f"--matrix-{flag} values must be at most {LIMITS[flag]:,}, got {raw!r}")
        chosen.append(parsed)
    return tuple(chosen)


def check_fits(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> None:
    """Refuse the matrix if its largest shape (I = H, one layer, forward+backward) does not fit *device*'s memory:
    before any shape runs, rather than after hours of the smaller ones."""
    batch, hidden, steps = (max(values) for values in axes(args, device))
    needed = needed_bytes(batch, steps, hidden, hidden, 1, 1, dtype.itemsize, backward=True)
    check_memory(f"--matrix-batch {batch} --matrix-hidden {hidden} --matrix-steps {steps}", needed, device)


def available(cell_kind: str, options: dict, device: torch.device, dtype: torch.dtype) -> list[str]:
    """Every kernel that can run the cell here, best first (``reference`` last), as explicit backends."""
    manager = get_plugin_manager()
    cell = manager.cells.get(cell_kind).build(1, 1, **options)
    return [k.name for k in kernels.candidates(manager.kernels, cell_kind) if k.supports(cell, device, dtype) is None]


def _peak_bytes(device: torch.device, run: Callable[[], object]) -> int | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    run()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def measure_shape(args: argparse.Namespace, backends: list[str], options: dict, shape: tuple[int, int, int]) -> list:
    """One row per contender and pass at one (B, H, T): times, throughput, peak memory, error against fp64."""
    device, dtype = args.device_obj, args.dtype_obj
    B, H, T = shape
    torch.manual_seed(0)
    layers: dict[str, torch.nn.Module] = {}
    for name in backends:
        layer = create_rnn(args.cell, H, H, backend=name, **options).to(device, dtype)
        if layers:
            layer.load_state_dict(next(iter(layers.values())).state_dict())
        layers[name] = layer
    exact = create_rnn(args.cell, H, H, backend="reference", **options).to(device, torch.float64)
    exact.load_state_dict({k: v.double() for k, v in next(iter(layers.values())).state_dict().items()})
    with contextlib.suppress(InvalidArgumentError):  # no torch.nn counterpart (reset_before): absolute figures
        layers[TORCH_NN] = next(iter(layers.values())).to_torch()
    x = torch.randn(B, T, H, device=device, dtype=dtype, requires_grad=True)
    with torch.no_grad():
        truth = exact(x.double())[0]
    rows = []
    for name, layer in layers.items():
        with torch.no_grad():
            error = (layer(x)[0].double() - truth).abs().max().item()

        def forward(layer: torch.nn.Module = layer) -> None:
            with torch.no_grad():
                layer(x)

        def both(layer: torch.nn.Module = layer) -> None:
            layer(x)[0].sum().backward()

        for label, run in (("forward", forward), ("forward+backward", both)):
            seconds = measure({name: run}, args.repeat, args.warmup, device)[name]
            ran = layer.backend if isinstance(layer, Recurrent) else TORCH_NN
            row = {"B": B, "H": H, "T": T, "pass": label, "backend": name, "ran": ran, "seconds": seconds}
            row.update(us_per_step=round(seconds / T * 1e6, 2), tokens_per_s=round(B * T / seconds))
            row.update(peak_bytes=_peak_bytes(device, run), max_error_vs_fp64=error)
            rows.append(row)
    baseline = {r["pass"]: r["seconds"] for r in rows if r["backend"] == TORCH_NN}
    for row in rows:
        seconds = row.pop("seconds")
        row["ratio_to_torch_nn"] = round(seconds / baseline[row["pass"]], 3) if row["pass"] in baseline else None
    return rows


def main(
    args: argparse.Namespace, device: torch.device, dtype: torch.dtype, backends: list[str] | None, options: dict
) -> int:
    """Run every shape of the matrix and report; *backends* None means every kernel that can run the cell here.

    With ``--rows FILE`` each row is appended to FILE as one JSON line the moment it is measured, so a run cut
    off (a device lease ending, a hang killed) keeps what it measured; ``--deadline S`` starts no new shape
    after S seconds (the first shape always runs). A shape that fails (out of memory, a kernel that does not
    compile) becomes a row with its ``error`` and the matrix goes on.
    """
    args.device_obj, args.dtype_obj = device, dtype
    check_fits(args, device, dtype)
    backends = backends or available(args.cell, options, device, dtype)
    result = {"cell": args.cell, "options": options, "dtype": str(dtype).removeprefix("torch."), "device": str(device)}
    on_gpu = device.type == "cuda"
    result.update(gpu=torch.cuda.get_device_name(device) if on_gpu else None)
    result.update(capability=list(torch.cuda.get_device_capability(device)) if on_gpu else None)
    result.update(threads=torch.get_num_threads(), torch=torch.__version__, machine=platform.machine())
    result.update(date=datetime.datetime.now(datetime.timezone.utc).date().isoformat())  # when, for the rule table
    rows: list[dict] = []
    began, skipped = time.monotonic(), 0
    stream = open(args.rows, "a", encoding="utf-8") if args.rows else None  # noqa: SIM115 - closed below
    try:
        for B, H, T in itertools.product(*axes(args, device)):
            if args.deadline is not None and rows and time.monotonic() - began > args.deadline:
                skipped += 1
                continue
            try:
                measured = measure_shape(args, backends, options, (B, H, T))
            except (RuntimeError, InvalidArgumentError) as exc:  # OOM, a compile failure: the row says so
                measured = [{"B": B, "H": H, "T": T, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}]
            rows.extend(measured)
            if stream is not None:
                for row in measured:
                    stream.write(json.dumps({**_context(result), **row}) + "\n")
                stream.flush()
    finally:
        if stream is not None:
            stream.close()
    result.update(rows=rows, shapes_not_run=skipped)
    if args.json:
        write_json(result, args.json, getattr(args, "stdout", None))
        if args.json == "-":
            return 0
    if args.plot:
        plot([r for r in rows if "error" not in r], args.plot)
    print(f"{args.cell} {options or ''} {result['dtype']} on {device}; error: max |out - fp64 reference|")
    print(f"{'B':>4}{'H':>6}{'T':>5}  {'pass':<17}{'backend':<13}{'ran':<13}{'us/step':>10}{'tokens/s':>12}"
          f"{'x torch.nn':>11}{'peak MiB':>10}{'error':>10}")  # fmt: skip
    if skipped:
        print(f"--deadline {args.deadline:g} s passed: {skipped} shapes not run")
    for r in rows:
        if "error" in r:
            print(f"{r['B']:>4}{r['H']:>6}{r['T']:>5}  failed: {r['error']}")
            continue
        ratio = "-" if r["ratio_to_torch_nn"] is None else f"{r['ratio_to_torch_nn']:.3f}"
        peak = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f}"
        err = r["max_error_vs_fp64"]
        print(f"{r['B']:>4}{r['H']:>6}{r['T']:>5}  {r['pass']:<17}{r['backend']:<13}{r['ran']:<13}"
              f"{r['us_per_step']:>10.1f}{r['tokens_per_s']:>12}{ratio:>11}{peak:>10}{err:>10.1e}")  # fmt: skip
    return 0


def _context(result: dict) -> dict:
    """What makes a streamed row self-describing: cell, options, dtype, device, GPU, when it was measured."""
    return {k: result[k] for k in ("cell", "options", "dtype", "device", "gpu", "capability", "torch", "date")}


def plot(rows: list[dict], path: str) -> None:
    """µs per step against batch size, one panel per pass and hidden size, one line per backend."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise InvalidArgumentError("--plot needs matplotlib (pip install matplotlib)") from None
    passes = sorted({r["pass"] for r in rows})
    hiddens = sorted({r["H"] for r in rows})
    figure, panels = pyplot.subplots(
        len(passes), len(hiddens), squeeze=False, figsize=(4 * len(hiddens), 3.5 * len(passes))
    )
    for (i, label), (j, H) in itertools.product(enumerate(passes), enumerate(hiddens)):
        panel = panels[i][j]
        for (backend, T), group in itertools.groupby(
            sorted(
                (r for r in rows if r["pass"] == label and r["H"] == H), key=lambda r: (r["backend"], r["T"], r["B"])
            ),
            key=lambda r: (r["backend"], r["T"]),
        ):
            group = list(group)
            panel.plot([r["B"] for r in group], [r["us_per_step"] for r in group], marker="o", label=f"{backend} T={T}")
        panel.set(xscale="log", yscale="log", xlabel="batch", ylabel="µs / step", title=f"{label}, H={H}")
        panel.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
