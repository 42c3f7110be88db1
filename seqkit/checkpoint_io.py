"""Checkpoints are written whole or not at all: a crash or Ctrl-C mid-write leaves the previous file intact."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from seqkit.errors import SeqkitError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file in the same folder, flushes it to disk, then renames it into place.

    With *root* (the run directory), a checkpoint path outside it is refused: nothing a recipe sets
    can make a run write its checkpoints elsewhere. The one exception is the file through which
    Lightning's ``ddp_spawn`` hands rank 0's weights back to the launching process.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.root = Path(root).resolve() if root is not None else None

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        path = Path(path)
        outside = self.root is not None and not path.resolve().is_relative_to(self.root)
        if outside and not _spawn_handoff(path):
            raise SeqkitError(f"refusing to write checkpoint {path}: outside the run directory {self.root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        with open(partial, "wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)  # atomic on POSIX and Windows: readers see the old file or the new one


def _spawn_handoff(path: Path) -> bool:
    """Lightning's multiprocessing launcher saves rank 0's weights as ``<mkdtemp()>/.temp.ckpt``."""
    return path.name == ".temp.ckpt" and path.resolve().parent.parent == Path(tempfile.gettempdir()).resolve()
