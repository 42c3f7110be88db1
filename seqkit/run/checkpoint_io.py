"""Checkpoints are written whole or not at all, and only inside the run directory: no path a checkpoint holds
can make seqkit read, write or delete anything elsewhere."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from seqkit.errors import SeqkitError

# ModelCheckpoint state entries holding one path each; "best_k_models" maps paths to scores.
PATH_FIELDS = ("best_model_path", "kth_best_model_path", "last_model_path")


@contextmanager
def exclusive_temporary(path: Path) -> Iterator[IO[bytes]]:
    """A new file beside *path* with a random name, created with ``O_EXCL`` (a planted file or symlink is never
    followed nor reused), renamed over *path* once written and flushed, removed if writing fails."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(name, path)  # replaces a symlink at *path* itself, never the file it points to
    except BaseException:
        with suppress(OSError):
            os.unlink(name)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write *text* to *path* whole or not at all (see :func:`exclusive_temporary`)."""
    with exclusive_temporary(path) as stream:
        stream.write(text.encode("utf-8"))


def own_checkpoint(path: str | os.PathLike, root: Path) -> bool:
    """Whether *path* is a checkpoint file of the run's own: a ``*.ckpt`` file (not a link) directly in *root*.

    What a restored callback state may name: a tampered state naming the user's notes, the recipe or
    ``metrics.json`` must never make Lightning keep, load or delete that file.
    """
    text = os.fspath(path)
    if not text or "://" in text or "\0" in text:
        return False
    candidate = Path(text)
    try:
        return (
            candidate.suffix == ".ckpt"
            and not candidate.is_symlink()
            and candidate.is_file()
            and candidate.resolve().parent == root.resolve()
        )
    except (OSError, ValueError, RuntimeError):
        return False


def inside(path: str | os.PathLike, root: Path) -> bool:
    """Whether *path*, symlinks resolved, lies in *root* (a URL or any other scheme never does)."""
    text = os.fspath(path)
    if not text or "://" in text or "\0" in text:
        return False
    try:
        return Path(text).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):
        return False


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file in the same folder, flushes it to disk, then renames it into place.

    With *root* (the run directory), a checkpoint path outside it is refused, for writing and for removal:
    nothing a recipe or a checkpoint sets can make a run write or delete files elsewhere. The one exception
    is the file through which Lightning's ``ddp_spawn`` hands rank 0's weights back to the launching process.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.root = Path(root).resolve() if root is not None else None
        self.checked: tuple[Path, dict[str, Any]] | None = None

    def hand_over(self, path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
        """Lightning's read of *path* gets *checkpoint* (seqkit's read of it, checked), not the file read anew."""
        self.checked = (Path(path).resolve(), checkpoint)

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None, weights_only: Any = None) -> Any:
        if self.checked is not None and Path(os.fspath(path)).resolve() == self.checked[0]:
            return dict(self.checked[1])  # a fresh top level: Lightning adds and removes entries as it restores
        if map_location is None:  # Lightning's own default (storages kept where torch puts them)
            return super().load_checkpoint(path, weights_only=weights_only)
        return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        path = Path(path)
        outside = self.root is not None and not inside(path, self.root)
        if outside and not _spawn_handoff(path):
            raise SeqkitError(f"refusing to write checkpoint {path}: outside the run directory {self.root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_temporary(path) as stream:
            try:
                torch.save(checkpoint, stream)
            except RuntimeError:  # torch's writer reports a full disk or a size limit without an errno
                code = _disk_refusal(path.parent)
                if code is None:
                    raise
                raise OSError(code, os.strerror(code), str(path)) from None

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        """Remove one checkpoint file inside the run directory; never a folder, a link's target, or a URL."""
        path = Path(os.fspath(path))
        if self.root is not None and not inside(path, self.root) and not _spawn_handoff(path):
            raise SeqkitError(f"refusing to remove {path}: outside the run directory {self.root}")
        if path.suffix != ".ckpt":  # only checkpoints are ever removed: a recorded path may have been tampered with
            raise SeqkitError(f"refusing to remove {path}: not a checkpoint file")
        if path.is_symlink() or path.is_file():
            path.unlink()


class ConfinedCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint whose restored state keeps only paths to files in its own folder.

    A checkpoint is data from anywhere: Lightning would load its ``best_model_path`` (a URL included, with
    ``weights_only=False``) and delete its recorded paths (recursively). Every path that does not resolve into
    this run's folder, or names no file there, is dropped before Lightning sees it.
    """

    @property
    def state_key(self) -> str:
        # Lightning's name for the state, so checkpoints written before and after this class read alike
        return super().state_key.replace(type(self).__qualname__, "ModelCheckpoint", 1)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(confined_state(state_dict, Path(self.dirpath or ".")))

    def _remove_checkpoint(self, trainer: Any, filepath: str) -> None:
        if own_checkpoint(filepath, Path(self.dirpath or ".")):
            super()._remove_checkpoint(trainer, filepath)


def confined_state(state: Any, root: Path) -> dict[str, Any]:
    """A copy of ModelCheckpoint's *state* with every path outside *root* (or to no file) dropped."""
    state = dict(state) if isinstance(state, dict) else {}

    def kept(value: Any) -> bool:
        return isinstance(value, str) and own_checkpoint(value, root)

    for key in PATH_FIELDS:
        if key in state and not kept(state[key]):
            state[key] = ""
    state.setdefault("best_model_path", "")
    models = state.get("best_k_models")
    if models is not None:
        valid = isinstance(models, dict)
        state["best_k_models"] = {k: v for k, v in models.items() if kept(k) and _score(v)} if valid else {}
    if "kth_value" in state and not _score(state["kth_value"]):
        state.pop("kth_value")
    if "dirpath" in state and not isinstance(state["dirpath"], str):
        state["dirpath"] = ""  # Lightning only compares it with its own: another folder restores no scores
    if not _score(state.get("best_model_score")):
        state["best_model_score"] = None
    return state


def _score(value: Any) -> bool:
    """A monitored value as Lightning stores it: a one-number tensor or a number."""
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and (value.is_floating_point() or not value.dtype.is_complex)
    return isinstance(value, (float, int)) and not isinstance(value, bool)


def _disk_refusal(folder: Path) -> int | None:
    """``ENOSPC`` when *folder*'s disk is (nearly) full, ``EFBIG`` under a file-size limit, else None."""
    if shutil.disk_usage(folder).free < (1 << 20):
        return errno.ENOSPC
    try:
        import resource

        if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
            return errno.EFBIG
    except (ImportError, OSError, ValueError):
        pass
    return None


def _spawn_handoff(path: Path) -> bool:
    """Lightning's multiprocessing launcher saves rank 0's weights as ``<mkdtemp()>/.temp.ckpt``."""
    return path.name == ".temp.ckpt" and path.resolve().parent.parent == Path(tempfile.gettempdir()).resolve()
