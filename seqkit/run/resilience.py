"""Crash-safe training: mid-epoch resume points, SIGTERM/SIGINT saved and stopped cleanly, non-finite losses."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException

from seqkit.errors import SeqkitError
from seqkit.recipe.validate import NONFINITE_POLICIES as NONFINITE_POLICIES  # declared once, with the recipe

DEFAULT_EVERY_N_STEPS = 500
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_NONFINITE = 3


class TrainingStopped(Exception):
    """A SIGINT or SIGTERM stopped training after a resumable checkpoint was written."""

    def __init__(self, signum: int, checkpoint: Path) -> None:
        super().__init__(f"{signal.Signals(signum).name}: stopped after saving {checkpoint}")
        self.signum = signum
        self.checkpoint = checkpoint

    @property
    def exit_code(self) -> int:
        return EXIT_SIGINT if self.signum == signal.SIGINT else EXIT_SIGTERM


class NonFiniteLossError(SeqkitError):
    """The training loss became NaN or infinite (``on_nonfinite: stop``)."""

    exit_code = EXIT_NONFINITE


class ResumePoints(pl.Callback):
    """Writes ``last.ckpt`` every *every_n_steps* optimizer steps and when SIGTERM or SIGINT arrives.

    Each such checkpoint records the position in the epoch (``SeqkitData.state_dict``), so ``resume=last``
    continues with the next batch and ends with the same weights as a run never stopped. A signal is
    acted on after the current step: the checkpoint is written (atomically), then :class:`TrainingStopped`
    is raised. A second SIGINT while one is pending interrupts at once (the previous ``last.ckpt`` stays).
    """

    def __init__(self, path: Path, every_n_steps: int = DEFAULT_EVERY_N_STEPS) -> None:
        self.path = Path(path)
        self.every_n_steps = every_n_steps
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pending == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.pending = signum

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return  # between the micro-batches of one step: the gradients gathered so far are in no checkpoint
        step = trainer.global_step
        due = self.every_n_steps > 0 and step > 0 and step % self.every_n_steps == 0
        stopping = self.pending is not None
        if trainer.world_size > 1:
            # Saving is collective: when a signal reached only some processes, all of them save and stop.
            stopping = trainer.strategy.reduce_boolean_decision(stopping, all=False)
        if not stopping and not due:
            return
        trainer.save_checkpoint(self.path, weights_only=False)  # all of the state, to resume from
        if stopping:
            signum, self.pending = self.pending or signal.SIGTERM, None
            raise TrainingStopped(signum, self.path)


@contextlib.contextmanager
def sigterm_stops(checkpoint: Path) -> Iterator[None]:
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
