"""The run directory: refused when it cannot hold a new run, cleared only when asked, never left half-made."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from seqkit.data import DataError, open_regular
from seqkit.errors import SeqkitError, printable

# What `seqkit train` writes into a run directory; `overwrite=true` removes these and nothing else.
OUTPUTS = ("best.ckpt", "last.ckpt", "metrics.json", "recipe.yaml", "logs", "INCOMPLETE")
# Errors of the machine, not of seqkit: reported in one line with what to do.
DISK_ERRORS = {
    errno.ENOSPC: "the disk is full: free some space",
    errno.EFBIG: "a file-size limit was reached (ulimit -f): raise it",
    errno.EDQUOT: "the disk quota is used up: free some space",
    errno.EROFS: "the file system is read-only: choose another run_dir",
    errno.EACCES: "permission denied: choose another run_dir",
    errno.EPERM: "permission denied: choose another run_dir",
}
NAME_MAX = 255


def check_run_dir(run_dir: Path, resume: Path | None, overwrite: bool) -> None:
    """Raise a one-line :class:`SeqkitError` when *run_dir* cannot take this run (before anything is written)."""
    text = str(run_dir)
    shown = printable(text)
    if "\0" in text:
        raise SeqkitError(f"run_dir {shown}: holds a NUL byte; choose another name")
    long = [part for part in run_dir.parts if len(os.fsencode(part)) > NAME_MAX]
    if long:
        raise SeqkitError(f"run_dir {shown}: the name {printable(long[0][:40])}... is over {NAME_MAX} bytes long")
    if run_dir.is_symlink() and not run_dir.exists():
        raise SeqkitError(f"run_dir {shown}: a symbolic link to nothing ({printable(os.readlink(run_dir))})")
    if run_dir.exists() and not run_dir.is_dir():
        raise SeqkitError(f"run_dir {shown}: exists and is not a directory; choose another run_dir")
    existing = next((p for p in (run_dir, *run_dir.absolute().parents) if p.exists()), None)
    if existing is not None and (not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK)):
        raise SeqkitError(f"run_dir {shown}: cannot write in {printable(str(existing))} (read-only or not yours)")
    link = _link_inside(run_dir) if run_dir.is_dir() else None
    if link is not None:  # Lightning's loggers follow links: a planted one would make a resumed run write elsewhere
        raise SeqkitError(
            f"run_dir {shown}: {printable(str(link.relative_to(run_dir)))} is a symbolic link; seqkit writes only "
            "real files in its run directory: remove the link"
        )
    if resume is not None or not run_dir.is_dir():
        return
    if overwrite:
        if any(run_dir.iterdir()) and not _holds_a_run(run_dir):
            # overwrite removes logs/, recipe.yaml, ... by name: never in a folder that is not a seqkit run
            raise SeqkitError(
                f"run_dir {shown}: holds files but no seqkit run (no checkpoint, no recipe.yaml from `seqkit train`); "
                "overwrite=true replaces a run only: choose a new run_dir"
            )
        return
    if any(run_dir.iterdir()):
        finished = (run_dir / "metrics.json").is_file()
        state = "a finished run" if finished else "files (an unfinished run?)"
        raise SeqkitError(
            f"run_dir {shown}: already holds {state}; choose a new run_dir, continue it with resume=last, "
            "or replace it with overwrite=true"
        )


def _holds_a_run(run_dir: Path) -> bool:
    """Whether *run_dir* holds a run's checkpoint, or the recipe.yaml ``seqkit train`` writes first into each run."""
    if any((run_dir / name).is_file() and not (run_dir / name).is_symlink() for name in ("last.ckpt", "best.ckpt")):
        return True
    try:  # through the data files' check: a named pipe there is no run, and opening it would wait forever
        with open_regular(run_dir / "recipe.yaml", "recipe.yaml") as stream:
            return stream.read(14) == b"# seqkit train"
    except (OSError, DataError):
        return False


def _link_inside(run_dir: Path) -> Path | None:
    """The first symbolic link among *run_dir*'s files and folders (not followed), or None."""
    for folder, dirs, files in os.walk(run_dir, followlinks=False):
        for name in sorted(dirs + files):
            if (Path(folder) / name).is_symlink():
                return Path(folder) / name
    return None


def clear_outputs(run_dir: Path) -> None:
    """Remove what an earlier run wrote into *run_dir* (``overwrite=true``); other files stay."""
    for name in OUTPUTS:
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_symlink() or path.exists():
            path.unlink()
    for partial in run_dir.glob(".*.partial"):
        partial.unlink()


@contextlib.contextmanager
def cleaned_up_on_failure(run_dir: Path, owner: bool) -> Iterator[None]:
    """A run that fails before its first checkpoint leaves no folder it created; one that fails later leaves its
    folder marked ``INCOMPLETE`` (the checkpoints in it can be resumed)."""
    created = not run_dir.exists()
    try:
        yield
    except BaseException as error:
        if owner and created and run_dir.is_dir():
            with contextlib.suppress(OSError):
                if not any(run_dir.glob("*.ckpt")):
                    shutil.rmtree(run_dir)
                elif not _stopped_cleanly(error):
                    (run_dir / "INCOMPLETE").write_text(
                        f"This run failed: {type(error).__name__}. Continue it with resume={run_dir / 'last.ckpt'}\n"
                    )
        raise


def _stopped_cleanly(error: BaseException) -> bool:
    from seqkit.run.resilience import TrainingStopped

    return isinstance(error, (TrainingStopped, KeyboardInterrupt))


@contextlib.contextmanager
def disk_errors_explained(run_dir: Path, hint: str) -> Iterator[None]:
    """A full disk, a file-size limit or a read-only folder while training: one line saying what to do."""
    try:
        yield
    except OSError as error:
        why = DISK_ERRORS.get(error.errno or 0)
        if why is None:
            raise
        where = printable(str(error.filename or run_dir))
        resumable = (run_dir / "last.ckpt").is_file()
        if resumable:
            print(hint, file=sys.stderr)
        raise SeqkitError(
            f"cannot write {where}: {why}"
            + (f"; then continue with resume={run_dir / 'last.ckpt'}" if resumable else "")
        ) from None
