"""The ``seqkit export CKPT --format onnx|torch [--out DIR]`` command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seqkit.cli.checkpoint_args import CHECKPOINT_HELP
from seqkit.errors import SeqkitError, printable


def add_export_command(commands: Any) -> None:
    export = commands.add_parser(
        "export", help="write a checkpoint as a self-contained ONNX or torch.export bundle (graphs, vocab, manifest)"
    )
    export.add_argument("checkpoint", help=CHECKPOINT_HELP)
    export.add_argument("--format", choices=("onnx", "torch"), default="onnx", help="onnx (default) or torch")
    export.add_argument("--out", metavar="DIR", help="a new or empty folder (default: CHECKPOINT's name + -FORMAT)")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from seqkit.data.download import downloads_forbidden
    from seqkit.export.bundle import write_bundle
    from seqkit.run.checkpoint import load
    from seqkit.run.runs import find_checkpoint

    _need(args.format)
    checkpoint = find_checkpoint(args.checkpoint)
    out = Path(args.out) if args.out else Path(f"{checkpoint.stem}-{args.format}")
    # the checkpoint is data: its recipe's URLs are never fetched (export reads no data split)
    with downloads_forbidden("seqkit export reads no data; the checkpoint's recipe asked for a download"):
        parts = load(checkpoint)
    manifest = write_bundle(parts, checkpoint, out, args.format)
    graphs = ", ".join(g["file"] for g in manifest["graphs"])
    print(f"exported {printable(manifest['task'])} model to {out}/: {graphs}, manifest.json")
    return 0


def _need(fmt: str) -> None:
    """The optional packages a format needs, or one line saying which extra installs them."""
    if fmt != "onnx":
        return
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise SeqkitError("--format onnx needs the onnx package: pip install 'seqkit[export]'") from None
