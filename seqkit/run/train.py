"""``run(recipe)``: train, then evaluate the best checkpoint; the run directory holds everything it produced."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException

from seqkit.environment import check_trainer, trainer_refusals
from seqkit.errors import SeqkitError, one_line, printable
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.quiet import quiet_known_noise
from seqkit.recipe.load import Recipe, to_yaml
from seqkit.recipe.validate import validate
from seqkit.run.build import build, callbacks
from seqkit.run.checkpoint_io import AtomicCheckpointIO, ConfinedCheckpoint, write_text_atomic
from seqkit.run.distributed import batch_plan, is_rank_zero
from seqkit.run.report import ProgressBar, RunReport, on_a_terminal
from seqkit.run.resilience import DEFAULT_EVERY_N_STEPS, ResumePoints, TrainingStopped
from seqkit.run.resume_state import checked_for_lightning
from seqkit.run.run_dir import check_run_dir, cleaned_up_on_failure, clear_outputs, disk_errors_explained
from seqkit.run.runs import RUN_DIR_VARIABLE, mark_latest, run_directory
from seqkit.run.throughput import ExampleThroughput
from seqkit.run.trainer_notes import batches_per_epoch, modern_precision, precision_fallback_noted, settle_log_interval

log = logging.getLogger("seqkit.run.train")  # its name before the move into seqkit.run


def write_atomic(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def trainer_options(recipe: Recipe, run_dir: Path | None = None) -> dict[str, Any]:
    options = dict(recipe.data.get("trainer") or {})
    # Our batch sampler shards batches per process itself (Lightning would replace it otherwise).
    options.setdefault("use_distributed_sampler", False)
    # the default (at most one epoch's batches) is set once the batches are counted: see settle_log_interval
    if "precision" in options:  # Lightning's older names ("16", "bf16") warn that they are discouraged
        options["precision"] = modern_precision(options["precision"])
    # Lightning 2.6's model summary counts FLOPs with torch's FlopCounterMode, whose module hooks stay
    # behind and made every later step ~60x slower on CPU (1 s instead of 15 ms); seqkit logs its own line.
    options.setdefault("enable_model_summary", False)
    options["plugins"] = [*_as_list(options.get("plugins")), AtomicCheckpointIO(root=run_dir)]
    # A bar redrawn into a log file is megabytes of carriage returns: off unless someone watches (or asks for it).
    if options.get("enable_progress_bar") is None:
        options["enable_progress_bar"] = on_a_terminal()
    return options


def profiling(recipe: Recipe, run_dir: Path, options: dict[str, Any]) -> list[pl.Callback]:
    """With ``profile: true`` (``seqkit train --profile``): Lightning's profiler into *options*, and the callback
    that writes where the time went (seqkit/run/profile.py)."""
    if not recipe.data.get("profile"):
        return []
    from pytorch_lightning.profilers import SimpleProfiler

    from seqkit.run.profile import RunProfile

    options["profiler"] = SimpleProfiler(dirpath=run_dir, filename="lightning-profile")
    return [RunProfile(options["profiler"], run_dir)]


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
    try:
        yield
    finally:
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
    validate(recipe, manager)  # before run_dir and resume are read: every problem, and nothing touched yet
    check_trainer(recipe.data.get("trainer"))  # this machine can run it: before any data is read
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
    try:
        parts = build(recipe, manager, state=state, validated=True)
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
        _check_weights_fit(parts.module, saved["state_dict"], resume)
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
    options = trainer_options(recipe, run_dir)
    profiled = profiling(recipe, run_dir, options)
    report = RunReport(epoch_lines=not options["enable_progress_bar"])
    bar = [ProgressBar()] if options["enable_progress_bar"] else []
    notes: list[str] = []
    with trainer_refusals(recipe.data.get("trainer")), precision_fallback_noted(recipe.data.get("trainer"), notes):
        trainer = pl.Trainer(
            **options,
            callbacks=[
                *bar,
                report,
                checkpoint,
                latest,
                points,
                LearningRateMonitor(),
                speed,
                *callbacks(recipe, manager, parts.monitor, parts.mode),
                *profiled,
            ],
            logger=loggers,
            default_root_dir=run_dir,
        )
    plan = _plan_batches(recipe, trainer, parts)
    if resume is not None:  # the last check that can fail: nothing is written before it
        saved = checked_for_lightning(saved, resume, trainer, parts)
        if isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO):  # a strategy may bring its own IO
            trainer.strategy.checkpoint_io.hand_over(resume, saved)
    batches = batches_per_epoch(len(parts.data.examples["train"]), plan.per_device, plan.world_size)
    notes += settle_log_interval(trainer, recipe.data.get("trainer"), batches)
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
    plan: Any,
    ours: tuple[ConfinedCheckpoint, ResumePoints, ExampleThroughput, RunReport],
) -> tuple[Path, dict[str, float]]:
    checkpoint, points, speed, report = ours
    if recipe.data.get("overwrite") and resume is None and run_dir.is_dir() and is_rank_zero():
        clear_outputs(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_rank_zero():
        write_atomic(
            run_dir / "recipe.yaml",
            # with its run_dir, so `seqkit train <run>/recipe.yaml resume=last` continues this very run
            f"# seqkit train {run_dir / 'recipe.yaml'}\n"
            + to_yaml({**_without(_without(recipe.data, "resume"), "overwrite"), "run_dir": str(run_dir)}),
        )
    _log_plan(trainer, plan)
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
    stopped = _stopped_epoch(saved) if saved is not None else None
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
        with _sigterm_stops(run_dir / "last.ckpt"):
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
        write_atomic(run_dir / "metrics.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return run_dir, metrics


@contextlib.contextmanager
def _sigterm_stops(checkpoint: Path) -> Iterator[None]:
    """Training is over and *checkpoint* is its last state: a SIGTERM while the best one is evaluated stops
    with status 143 and the resume hint, whether it comes between Lightning's calls (where no handler of
    Lightning's is installed and the process would simply die) or during one (Lightning's own exception)."""

    def stop(signum: int, frame: Any) -> None:
        raise TrainingStopped(signum, checkpoint)

    installed = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if installed else None
    try:
        yield
    except SIGTERMException:
        raise TrainingStopped(signal.SIGTERM, checkpoint) from None
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _plan_batches(recipe: Recipe, trainer: pl.Trainer, parts: Any) -> Any:
    """Fit the batch sizes to the processes the Trainer found (its devices × nodes)."""
    data = recipe.data.get("data") or {}
    accumulate = (recipe.data.get("trainer") or {}).get("accumulate_grad_batches")
    plan = batch_plan(parts.data.batch_size, data.get("global_batch_size"), trainer.world_size, accumulate)
    if parts.module.on_nonfinite == "skip_batch" and (plan.world_size > 1 or plan.accumulate > 1):
        # Lightning cannot skip a step on some processes only, nor one micro-batch of an accumulated step
        raise SeqkitError(
            f"on_nonfinite: skip_batch works on one process without gradient accumulation; this run has "
            f"{plan.world_size} processes × {plan.accumulate} accumulated: use on_nonfinite=stop"
        )
    trainer.accumulate_grad_batches = plan.accumulate
    parts.data.batch_size = plan.per_device
    return plan


def _log_plan(trainer: pl.Trainer, plan: Any) -> None:
    for logger in trainer.loggers:
        logger.log_hyperparams(
            {
                "global_batch_size": plan.global_batch,
                "batch_size_per_device": plan.per_device,
                "accumulate_grad_batches": plan.accumulate,
                "world_size": plan.world_size,
            }
        )


def _stopped_epoch(checkpoint: dict[str, Any]) -> int | None:
    """The epoch at which an early-stopping callback ended the checkpoint's run, if one did."""
    states = checkpoint.get("callbacks")
    for key, state in (states if isinstance(states, dict) else {}).items():
        epoch = state.get("stopped_epoch", 0) if isinstance(state, dict) else 0
        if str(key).startswith("EarlyStopping") and isinstance(epoch, int) and epoch > 0:
            return epoch
    return None


def _check_weights_fit(module: Any, state_dict: dict[str, Any], path: Path) -> None:
    try:
        module.load_state_dict(state_dict)
    except (RuntimeError, TypeError, AttributeError, ValueError) as error:
        raise SeqkitError(
            f"resume: {path} holds weights of another shape than the recipe's model; "
            f"did an override change its size? ({one_line(error)[:300]})"
        ) from None


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}
