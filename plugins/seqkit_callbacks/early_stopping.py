"""``early_stopping``: Lightning's EarlyStopping, following the task's metric unless told otherwise."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from seqkit import Range, SeqkitError

# Lightning's EarlyStopping checks neither: a negative patience stops at the first validation without a gain, and a
# NaN min_delta makes every validation one without a gain. Declared here, a recipe's bad value is refused up front.
Patience = Annotated[int, Range(0)]
MinDelta = Annotated[float, Range(0)]


def early_stopping(
    *,
    monitor: str | None = None,
    mode: Literal["min", "max"] | None = None,
    patience: Patience = 3,
    min_delta: MinDelta = 0.0,
) -> Any:
    """Stop after *patience* validations without an improvement of at least *min_delta*.

    seqkit fills ``monitor`` and ``mode`` with the run's monitored metric (the task's, or the recipe's
    ``monitor``) when the recipe leaves them out.
    """
    if monitor is None or mode is None:
        raise ValueError("early_stopping needs monitor and mode (seqkit fills them in from the run)")
    return _watching_validation()(monitor=monitor, mode=mode, patience=patience, min_delta=min_delta)


def _watching_validation() -> type:
    """Lightning's EarlyStopping, refusing at the start of a run that never validates (``limit_val_batches=0``):
    Lightning's own error comes only after the first epoch, as a traceback. Named as Lightning's class, so the
    state a checkpoint keeps for it is found under the same key."""
    from pytorch_lightning.callbacks import EarlyStopping as Lightnings

    class EarlyStopping(Lightnings):
        def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
            super().setup(trainer, pl_module, stage)
            if stage == "fit" and trainer.limit_val_batches == 0:
                raise SeqkitError(
                    f"callbacks.early_stopping watches {self.monitor}, but trainer.limit_val_batches=0 turns "
                    "validation off: set callbacks.early_stopping=null, or validate"
                )

    EarlyStopping.__qualname__ = "EarlyStopping"  # Lightning keys the saved state by it
    return EarlyStopping
