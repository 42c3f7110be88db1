"""Where runs live: ``runs/<recipe>/latest`` names the newest one, and a checkpoint is found from a file, a run
directory or a recipe name."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from seqkit.errors import SeqkitError

RUNS = Path("runs")
LATEST = "latest"
BEST = "best.ckpt"


def mark_latest(run_dir: Path, recipe_name: str) -> None:
    """Point ``runs/<recipe>/latest`` at *run_dir* when that is one of the recipe's runs there (the default
    timestamped folders and distributed.py's ``slurm-…``/``torchrun-…`` names alike); a run_dir elsewhere is left
    alone. The link is replaced atomically: a reader sees the old run or the new one, never no link."""
    folder = RUNS / recipe_name
    if run_dir.resolve().parent != folder.resolve():
        return
    link = folder / LATEST
    staging = folder / f".{LATEST}.{os.getpid()}"
    try:
        staging.unlink(missing_ok=True)
        staging.symlink_to(run_dir.name, target_is_directory=True)  # relative: the runs folder may move
        os.replace(staging, link)
    except OSError:  # a file system without symbolic links: the run itself is complete, only the shortcut is missing
        staging.unlink(missing_ok=True)


def is_latest_link(path: Path) -> bool:
    return path.name == LATEST and path.is_symlink()


def find_checkpoint(target: str | os.PathLike) -> Path:
    """The checkpoint *target* names: a checkpoint file; a run directory (its ``best.ckpt``); or a recipe name
    (``runs/<recipe>/latest/best.ckpt``). One-line error naming what was looked for when none exists."""
    path = Path(target)
    if path.is_file():
        return path
    if path.is_dir():
        best = path / BEST
        if best.is_file():
            return best
        raise SeqkitError(f"{path}: a directory without {BEST}; expected a run directory of `seqkit train`")
    name = str(target)
    if path.suffix == ".ckpt" or path.is_absolute() or ".." in path.parts:
        raise SeqkitError(f"checkpoint {name} not found")
    latest = RUNS / name / LATEST  # a recipe name, `translation/gru_reverse` too
    if (latest / BEST).is_file():
        # said on stderr: a recipe name stands for whichever run is newest, perhaps a one-epoch experiment
        print(f"seqkit: using {latest / BEST} ({RUNS / name / os.readlink(latest)}, the newest run)", file=sys.stderr)
        return latest / BEST
    if latest.exists():
        raise SeqkitError(f"{name}: the latest run, {latest} (→ {os.readlink(latest)}), has no {BEST} yet")
    raise SeqkitError(
        f"checkpoint {name} not found: no such file, run directory, or recipe run ({latest} does not exist; "
        f"train it first with `seqkit train {name}`)"
    )
