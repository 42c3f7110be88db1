"""What every command that reads a checkpoint shares: its argument's help, the download rule, positive integers."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

ALLOW_DOWNLOAD_HELP = "let the checkpoint's recipe download its data (a checkpoint from elsewhere names any URL)"
CHECKPOINT_HELP = "a checkpoint file, a run directory (its best.ckpt) or a recipe name (runs/NAME/latest/best.ckpt)"


def positive(text: str) -> int:
    """argparse's ``type=`` for a count: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def no_download_unless_allowed(args: argparse.Namespace) -> Any:
    """A checkpoint's recipe may name any URL: it is fetched only with ``--allow-download``."""
    from seqkit.data.download import downloads_forbidden

    if args.allow_download:
        return contextlib.nullcontext()
    return downloads_forbidden(f"{args.checkpoint}'s recipe asks for it; pass --allow-download to let it download")
