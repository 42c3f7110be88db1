"""``run(recipe)``: train, then evaluate the best checkpoint; the run directory holds everything it produced."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException

from seqkit.environment import check_trainer
from seqkit.errors import SeqkitError, one_line, printable
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.quiet import quiet_known_noise
from seqkit.recipe.load import Recipe, to_yaml
from seqkit.recipe.validate import validate
from seqkit.run.build import build, callbacks
from seqkit.run.checkpoint_io import AtomicCheckpointIO, ConfinedCheckpoint, write_text_atomic
from seqkit.run.distributed import BatchPlan, is_rank_zero, log_plan, plan_batches
from seqkit.run.profile import profiling
from seqkit.run.report import ProgressBar, RunReport, on_a_terminal
from seqkit.run.resilience import DEFAULT_EVERY_N_STEPS, ResumePoints, TrainingStopped, sigterm_stops
from seqkit.run.resume_state import check_weights_fit, checked_for_lightning, stopped_epoch
from seqkit.run.run_dir import check_run_dir, cleaned_up_on_failure, clear_outputs, disk_errors_explained
from seqkit.run.runs import RUN_DIR_VARIABLE, mark_latest, run_directory
from seqkit.run.throughput import ExampleThroughput
from seqkit.run.trainer_factory import check_world_size, new_trainer, world_size
from seqkit.run.trainer_notes import batches_per_epoch, log_interval_options
from seqkit.threads import applied as threads_applied
from seqkit.threads import apply_recipe as apply_recipe_threads
from seqkit.threads import restore as restore_threads

log = logging.getLogger("seqkit.run.train")  # its name before the move into seqkit.run


def trainer_options(recipe: Recipe, run_dir: Path | None = None, plan: BatchPlan | None = None) -> dict[str, Any]:
    """The Trainer's arguments from the recipe's ``trainer`` section, with *plan*'s gradient accumulation."""
    options = dict(recipe.data.get("trainer") or {})
    options.pop("threads", None)  # seqkit's own (seqkit.threads.apply_recipe), not an argument of Lightning's
    # Our batch sampler shards batches per process itself (Lightning would replace it otherwise).
    options.setdefault("use_distributed_sampler", False)
    if plan is not None:
        options["accumulate_grad_batches"] = plan.accumulate
    # Lightning 2.6's model summary counts FLOPs with torch's FlopCounterMode, whose module hooks stay
    # behind and made every later step ~60x slower on CPU (1 s instead of 15 ms); seqkit logs its own line.
    options.setdefault("enable_model_summary", False)
    options["plugins"] = [*_as_list(options.get("plugins")), AtomicCheckpointIO(root=run_dir)]
    # A bar redrawn into a log file is megabytes of carriage returns: off unless someone watches (or asks for it).
    if options.get("enable_progress_bar") is None:
        options["enable_progress_bar"] = on_a_terminal()
    return options


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


@contextlib.contextmanager
def _process_settings_kept() -> Iterator[None]:
    """Put back what ``trainer.deterministic`` and friends change for the whole process, so a run's settings
    do not leak into the next run in the same process (tests, notebooks)."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    policy, threads = threads_applied(), torch.get_num_threads()  # trainer.threads sets the run's own
    try:
        yield
    finally:
        restore_threads(policy, threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        if workspace is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = workspace


def _exited_in(stop: BaseException) -> str:
    """The module outside seqkit, Lightning and torch that raised *stop* (a plugin's callback, say)."""
    culprit, frame = None, stop.__traceback__
    while frame is not None:
        module = str(frame.tb_frame.f_globals.get("__name__", ""))
        if module.partition(".")[0] not in ("seqkit", "pytorch_lightning", "lightning_fabric", "torch"):
            culprit = module
        frame = frame.tb_next
    return f"module {printable(culprit)}" if culprit else "code outside seqkit"


def train(recipe: Recipe, manager: PluginManager | None = None) -> tuple[Path, dict[str, float]]:
    """Train *recipe*; returns the run directory and the final validation and test metrics."""
    inherited = os.environ.get(RUN_DIR_VARIABLE)
    try:
        with _process_settings_kept():
            return _train(recipe, manager)
    finally:
        # The folder is told to the DDP processes this run starts, not to the next run in this process.
        if inherited is None:
            os.environ.pop(RUN_DIR_VARIABLE, None)
        else:
            os.environ[RUN_DIR_VARIABLE] = inherited


def _train(recipe: Recipe, manager: PluginManager | None) -> tuple[Path, dict[str, float]]:
    manager = manager or get_plugin_manager()
    validated = validate(recipe, manager)  # before run_dir and resume are read: every problem, nothing touched yet
    section = recipe.data.get("trainer")
    check_trainer(section)  # this machine can run it: before any data is read
    apply_recipe_threads(section.get("threads") if isinstance(section, dict) else None)
    run_dir, resume = run_directory(recipe)
    if is_rank_zero() and not (os.environ.get(RUN_DIR_VARIABLE) and not recipe.data.get("run_dir")):
        check_run_dir(run_dir, resume, bool(recipe.data.get("overwrite")))
    state = saved = None
    if resume is not None:
        from seqkit.run.checkpoint import read_checkpoint

        saved = read_checkpoint(resume)
        state = saved["seqkit"]
        if resume.parent.resolve() != run_dir.resolve():
            print(
                f"seqkit train: resuming {resume} into another run_dir ({run_dir}): its best.ckpt will be "
                "chosen among the epochs trained from here on",
                file=sys.stderr,
            )
    # the processes Lightning will run on, before the data module and the Trainer: both are made with the plan
    plan = plan_batches(validated, world_size(section))
    try:
        parts = build(recipe, manager, state=state, validated=validated, batch_size=plan.per_device)
    except SeqkitError:
        raise
    except Exception as error:
        if resume is None:
            raise
        # the saved tokenizer or task state is not what the plugins wrote: the checkpoint is damaged
        raise SeqkitError(
            f"resume: cannot rebuild the run from {resume} ({type(error).__name__}: {one_line(error)[:200]})"
        ) from None
    if resume is not None:
        check_weights_fit(parts.module, saved["state_dict"], resume, state["recipe"])
    checkpoint = ConfinedCheckpoint(
        dirpath=run_dir,
        filename="best",
        monitor=parts.monitor,
        mode=parts.mode,
        save_top_k=1,
        enable_version_counter=False,
        auto_insert_metric_name=False,
    )
    # Lightning's save_last skips epochs where the best did not improve; resuming needs every epoch's state.
    latest = ConfinedCheckpoint(dirpath=run_dir, filename="last", save_top_k=1, enable_version_counter=False)
    speed = ExampleThroughput()
    every = recipe.data.get("checkpoint_every_n_steps")
    points = ResumePoints(run_dir / "last.ckpt", DEFAULT_EVERY_N_STEPS if every is None else every)
    loggers = [
        CSVLogger(run_dir, name="logs", version="csv"),
        TensorBoardLogger(run_dir, name="logs", version="tensorboard", default_hp_metric=False),
    ]
    batches = batches_per_epoch(len(parts.data.examples["train"]), plan.per_device, plan.world_size)
    log_options, log_notes = log_interval_options(section, batches)
    options = {**trainer_options(recipe, run_dir, plan), **log_options}
    profiled = profiling(recipe, run_dir, options)
    report = RunReport(epoch_lines=not options["enable_progress_bar"])
    bar = [ProgressBar()] if options["enable_progress_bar"] else []
    notes: list[str] = []
    named = callbacks(recipe, manager, parts.monitor, parts.mode)
    every_callback = [*bar, report, checkpoint, latest, points, LearningRateMonitor(), speed, *named, *profiled]
    trainer = new_trainer(section, notes, **options, callbacks=every_callback, logger=loggers, default_root_dir=run_dir)
    check_world_size(trainer, plan.world_size)
    if resume is not None:  # the last check that can fail: nothing is written before it
        saved = checked_for_lightning(saved, resume, trainer, parts)
        if isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO):  # a strategy may bring its own IO
            trainer.strategy.checkpoint_io.hand_over(resume, saved)
    notes += log_notes
    for note in notes if is_rank_zero() else []:
        print(f"seqkit train: note: {note}", file=sys.stderr)
    os.environ[RUN_DIR_VARIABLE] = str(run_dir)  # DDP workers inherit it and write into the same folder
    hint = f"seqkit train: to continue: seqkit train {run_dir / 'recipe.yaml'} resume={run_dir / 'last.ckpt'}"
    with cleaned_up_on_failure(run_dir, is_rank_zero()), disk_errors_explained(run_dir, hint):
        ours = (checkpoint, points, speed, report)
        return _fit_and_evaluate(recipe, run_dir, resume, saved, parts, trainer, plan, ours)


def _fit_and_evaluate(
    recipe: Recipe,
    run_dir: Path,
    resume: Path | None,
    saved: Any,
    parts: Any,
    trainer: pl.Trainer,
    plan: BatchPlan,
    ours: tuple[ConfinedCheckpoint, ResumePoints, ExampleThroughput, RunReport],
) -> tuple[Path, dict[str, float]]:
    checkpoint, points, speed, report = ours
    if recipe.data.get("overwrite") and resume is None and run_dir.is_dir() and is_rank_zero():
        clear_outputs(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_rank_zero():
        write_text_atomic(
            run_dir / "recipe.yaml",
            # with its run_dir, so `seqkit train <run>/recipe.yaml resume=last` continues this very run (escaped: one
            # comment line, whatever the path)
            f"# seqkit train {printable(str(run_dir / 'recipe.yaml'))}\n"
            + to_yaml({**_without(_without(recipe.data, "resume"), "overwrite"), "run_dir": str(run_dir)}),
        )
    log_plan(trainer, plan)
    log.info("run directory: %s", run_dir)
    if trainer.is_global_zero:
        parameters = sum(p.numel() for p in parts.module.model.parameters())
        print(
            f"seqkit train: {recipe.name}: {parameters:,} parameters; global batch {plan.global_batch} = "
            f"{plan.per_device} per device × {plan.world_size} processes × {plan.accumulate} accumulated; "
            f"writing {run_dir}",
            file=sys.stderr,
        )
    if not log.isEnabledFor(logging.DEBUG):  # `seqkit -v` shows everything
        quiet_known_noise()
    # recipe.yaml is ours: Lightning's "checkpoint directory is not empty" would be noise
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    # Our data module restores the position in the epoch itself (SeqkitData.state_dict): mid-epoch resume is exact.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    stopped = stopped_epoch(saved) if saved is not None else None
    if stopped is not None:
        # Lightning does not save that early stopping ended the run: resumed, it would train another epoch.
        print(f"seqkit train: {resume}: early stopping ended this run at epoch {stopped}; evaluating", file=sys.stderr)
    hint = f"seqkit train: to continue: seqkit train {run_dir / 'recipe.yaml'} resume={run_dir / 'last.ckpt'}"
    try:
        if stopped is None:
            ckpt = str(resume) if resume else None
            trainer.fit(parts.module, datamodule=parts.data, ckpt_path=ckpt, weights_only=True)
        pending = points.pending is not None
        if trainer.world_size > 1:  # every process stops, or none: the others would wait in evaluation
            pending = trainer.strategy.reduce_boolean_decision(pending, all=False)
        if pending:  # the signal came during the last validation: last.ckpt is the final one
            raise TrainingStopped(points.pending or signal.SIGTERM, run_dir / "last.ckpt")
    except TrainingStopped:
        print(hint, file=sys.stderr)
        raise
    except SystemExit as stop:
        if not trainer.interrupted or isinstance(stop, SIGTERMException):
            raise  # a SIGTERM before training began (sanity check): the CLI exits 143
        if not isinstance(stop.__context__, KeyboardInterrupt):  # Lightning exits while handling Ctrl-C; this is not
            raise SeqkitError(
                f"training ended by sys.exit({stop.code!r}) in {_exited_in(stop)}: plugin code must raise an "
                "error, not exit the process"
            ) from None
        # Lightning exits on Ctrl-C; say how to continue instead, and let the CLI report the interruption.
        print(hint, file=sys.stderr)
        raise KeyboardInterrupt from None
    if trainer.is_global_zero:
        mark_latest(run_dir, recipe.name)
    best = checkpoint.best_model_path or next(
        str(p) for p in (run_dir / "best.ckpt", run_dir / "last.ckpt", resume) if p is not None and p.is_file()
    )
    if speed.rates and trainer.is_global_zero:
        print(
            f"seqkit train: {sum(speed.rates) / len(speed.rates):,.0f} training examples/s "
            f"(mean of {len(speed.rates)} epochs, validation excluded)",
            file=sys.stderr,
        )
    metrics: dict[str, float] = {}
    if type(trainer.strategy.launcher).__name__ == "_MultiProcessingLauncher":
        # ddp_spawn starts new processes for each call; Lightning's CSV logger, unpickled there, would rewrite
        # the training log with the evaluation's columns only and fail. The final metrics go to metrics.json.
        trainer.loggers = []
    try:
        with sigterm_stops(run_dir / "last.ckpt"):
            for split, evaluate in (("valid", trainer.validate), ("test", trainer.test)):
                if parts.data.examples.get(split):
                    results = evaluate(
                        parts.module, datamodule=parts.data, ckpt_path=best, verbose=False, weights_only=True
                    )
                    metrics.update({k: round(float(v), 6) for k, v in (results[0] if results else {}).items()})
    except TrainingStopped:
        print(hint, file=sys.stderr)
        raise
    if trainer.is_global_zero:
        record = {**metrics, "run": report.summary(trainer)}  # what ran: kernels per layer, device, threads, versions
        write_text_atomic(run_dir / "metrics.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return run_dir, metrics


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}
