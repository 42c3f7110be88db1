"""Where runs live: a new run's directory (or the one it resumes), ``runs/<recipe>/latest`` naming the newest,
and a checkpoint found from a file, a run directory or a recipe name."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from seqkit.errors import SeqkitError
from seqkit.filekind import special
from seqkit.run.distributed import shared_run_name, started_by_external_launcher

if TYPE_CHECKING:
    from seqkit.recipe.load import Recipe

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
    kind = special(path)
    if kind:  # never opened: a named pipe would wait for a writer forever
        raise SeqkitError(f"checkpoint {name}: expected a checkpoint file or a run directory, found {kind}")
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


RUN_DIR_VARIABLE = "SEQKIT_RUN_DIR"


def run_directory(recipe: Recipe) -> tuple[Path, Path | None]:
    """``(run_dir, checkpoint to resume from)``; ``resume=last`` finds the newest run's ``last.ckpt``."""
    r = recipe.data
    explicit = r.get("run_dir")
    resume = r.get("resume")
    if resume == "last":
        if explicit:
            last = Path(explicit) / "last.ckpt"
            if not last.is_file():
                raise SeqkitError(f"resume=last: no last.ckpt in run_dir {explicit}")
            return Path(explicit), last
        runs = sorted(
            (p for p in Path("runs", recipe.name).glob("*/last.ckpt") if not is_latest_link(p.parent)),
            key=lambda p: p.stat().st_mtime,
        )
        if not runs:
            raise SeqkitError(
                f"resume=last: no earlier run of '{recipe.name}' under runs/{recipe.name}/ has a last.ckpt"
            )
        return runs[-1].parent, runs[-1]
    if resume:
        checkpoint = Path(resume)
        if not checkpoint.is_file():
            raise SeqkitError(f"resume: checkpoint {resume} not found")
        return (Path(explicit) if explicit else checkpoint.parent), checkpoint
    if explicit:
        return Path(explicit), None
    if os.environ.get(RUN_DIR_VARIABLE):  # a DDP worker: the launching process chose the folder
        return Path(os.environ[RUN_DIR_VARIABLE]), None
    shared = shared_run_name()
    if shared:
        return Path("runs", recipe.name, shared), None
    if started_by_external_launcher():
        raise SeqkitError(
            "run_dir: the processes of this launch cannot agree on a new run folder (nodes started by hand, "
            "or torchrun without --rdzv-id or --standalone, share no id): set run_dir=PATH"
        )
    return Path("runs", recipe.name, time.strftime("%Y%m%d-%H%M%S")), None
