"""Lightning's EarlyStopping, refusing at the start a run that never validates (imported when one is built: the
plugin's entry module stays free of Lightning)."""

from __future__ import annotations

from typing import Any

from pytorch_lightning.callbacks import EarlyStopping as _Lightnings

from seqkit import SeqkitError


class EarlyStopping(_Lightnings):
    """Lightning's, but ``trainer.limit_val_batches=0`` is refused when the run starts: Lightning's own error comes
    only after the first epoch, as a traceback. Named as Lightning's class (the state a checkpoint keeps for it is
    found under the same key) and defined at module level (a ``ddp_spawn`` run pickles its callbacks)."""

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage == "fit" and trainer.limit_val_batches == 0:
            raise SeqkitError(
                f"callbacks.early_stopping watches {self.monitor}, but trainer.limit_val_batches=0 turns "
                "validation off: set callbacks.early_stopping=null, or validate"
            )
