"""``run(recipe)``: train, then evaluate the best checkpoint; the run directory holds everything it produced."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from seqkit.build import build, callbacks
from seqkit.checkpoint_io import AtomicCheckpointIO
from seqkit.errors import SeqkitError
from seqkit.plugins import PluginManager, get_plugin_manager
from seqkit.recipes import Recipe, to_yaml

log = logging.getLogger(__name__)


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
        runs = sorted(Path("runs", recipe.name).glob("*/last.ckpt"), key=lambda p: p.stat().st_mtime)
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
    return Path("runs", recipe.name, time.strftime("%Y%m%d-%H%M%S")), None


def write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def trainer_options(recipe: Recipe) -> dict[str, Any]:
    options = dict(recipe.data.get("trainer") or {})
    # Our batch sampler shards batches per process itself (Lightning would replace it otherwise).
    options.setdefault("use_distributed_sampler", False)
    options.setdefault("log_every_n_steps", 10)
    # Lightning 2.6's model summary counts FLOPs with torch's FlopCounterMode, whose module hooks stay
    # behind and made every later step ~60x slower on CPU (1 s instead of 15 ms); seqkit logs its own line.
    options.setdefault("enable_model_summary", False)
    options["plugins"] = [*_as_list(options.get("plugins")), AtomicCheckpointIO()]
    return options


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def train(recipe: Recipe, manager: PluginManager | None = None) -> tuple[Path, dict[str, float]]:
    """Train *recipe*; returns the run directory and the final validation and test metrics."""
    manager = manager or get_plugin_manager()
    run_dir, resume = run_directory(recipe)
    state = None
    if resume is not None:
        from seqkit.checkpoint import read_checkpoint

        state = read_checkpoint(resume)["seqkit"]
    parts = build(recipe, manager, state=state)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(
        run_dir / "recipe.yaml",
        # with its run_dir, so `seqkit train <run>/recipe.yaml resume=last` continues this very run
        f"# seqkit train {run_dir / 'recipe.yaml'}\n"
        + to_yaml({**_without(recipe.data, "resume"), "run_dir": str(run_dir)}),
    )

    checkpoint = ModelCheckpoint(
        dirpath=run_dir,
        filename="best",
        monitor=parts.monitor,
        mode=parts.mode,
        save_top_k=1,
        enable_version_counter=False,
        auto_insert_metric_name=False,
    )
    # Lightning's save_last skips epochs where the best did not improve; resuming needs every epoch's state.
    latest = ModelCheckpoint(dirpath=run_dir, filename="last", save_top_k=1, enable_version_counter=False)
    loggers = [
        CSVLogger(run_dir, name="logs", version="csv"),
        TensorBoardLogger(run_dir, name="logs", version="tensorboard", default_hp_metric=False),
    ]
    trainer = pl.Trainer(
        **trainer_options(recipe),
        callbacks=[checkpoint, latest, LearningRateMonitor(), *callbacks(recipe, manager, parts.monitor, parts.mode)],
        logger=loggers,
        default_root_dir=run_dir,
    )
    log.info("run directory: %s", run_dir)
    parameters = sum(p.numel() for p in parts.module.model.parameters())
    print(f"seqkit train: {recipe.name}: {parameters:,} parameters; writing {run_dir}", file=sys.stderr)
    try:
        trainer.fit(parts.module, datamodule=parts.data, ckpt_path=str(resume) if resume else None)
    except SystemExit:
        if not trainer.interrupted:
            raise
        # Lightning exits on Ctrl-C; say how to continue instead, and let the CLI report the interruption.
        print(
            f"seqkit train: to continue: seqkit train {run_dir / 'recipe.yaml'} resume={run_dir / 'last.ckpt'}",
            file=sys.stderr,
        )
        raise KeyboardInterrupt from None
    best = checkpoint.best_model_path or str(run_dir / "last.ckpt")
    metrics: dict[str, float] = {}
    for results in (
        trainer.validate(parts.module, datamodule=parts.data, ckpt_path=best, verbose=False),
        trainer.test(parts.module, datamodule=parts.data, ckpt_path=best, verbose=False),
    ):
        metrics.update({k: round(float(v), 6) for k, v in results[0].items()})
    write_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return run_dir, metrics


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}
