"""``seqkit bench``'s arguments, apart from the benchmark itself so that building the CLI parser imports no torch."""

from __future__ import annotations

import argparse

# the names --dtype accepts, each with the torch dtype's attribute name
DTYPE_NAMES = {"float32": "float32", "float64": "float64", "bfloat16": "bfloat16", "float16": "float16"}
DTYPE_NAMES.update(fp32="float32", fp64="float64", bf16="bfloat16", fp16="float16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "cell", help="a registered cell kind (seqkit ls cells), or 'cells': every cell with all its kernels"
    )
    parser.add_argument("--cells", metavar="A,B", help="with 'cells': only these cells (default: every registered one)")
    parser.add_argument("--batch", type=int, default=32, help="B (default 32)")
    parser.add_argument("--steps", type=int, default=100, help="T (default 100)")
    parser.add_argument("--input", type=int, default=128, help="I (default 128)")
    parser.add_argument("--hidden", type=int, default=256, help="H (default 256)")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument(
        "--lengths",
        choices=["full", "varied"],
        default="full",
        help="varied: lengths uniform in [1, T] (seed 0); torch.nn then runs packed sequences",
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma list of backends (default auto,reference; with --matrix every kernel that can run here)",
    )
    parser.add_argument("--dtype", choices=sorted(DTYPE_NAMES), default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=20, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per backend first (at least 1)")
    parser.add_argument("--forward-only", action="store_true", help="time the forward pass alone, without autograd")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the cell, e.g. --option bias=false (repeatable)",
    )
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, metavar="FILE", help="print one JSON object, or write it to FILE"
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="time every available kernel over a shape matrix (B, H, T; I = H), forward and forward+backward",
    )
    for axis, gpu, cpu in (
        ("batch", "1,8,32,64,256", "1,8"),
        ("hidden", "256,512,1024", "64"),
        ("steps", "64,256", "16"),
    ):
        parser.add_argument(
            f"--matrix-{axis}", metavar="N,N", help=f"--matrix values (default {gpu} on cuda, {cpu} on cpu)"
        )
    parser.add_argument(
        "--rows", metavar="FILE", help="with --matrix: append each row to FILE as a JSON line as soon as it is measured"
    )
    parser.add_argument("--deadline", type=float, metavar="S", help="with --matrix: start no new shape after S seconds")
    parser.add_argument(
        "--plot", metavar="FILE", help="with --matrix: µs/step against batch size as an image (matplotlib)"
    )
