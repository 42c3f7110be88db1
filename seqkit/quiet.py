"""Silence the third-party messages seqkit knows to be harmless for its runs, each matched by exact text and origin.

Nothing is filtered by category: a new or different warning from the same library still shows.
"""

from __future__ import annotations

import logging
import warnings

LIGHTNING_LOG = "pytorch_lightning.utilities.rank_zero"
# Lightning's informational lines that seqkit's own run header and epoch lines replace (kept with `seqkit -v`),
# and its advertisements for its cloud products ("💡 Tip: For seamless cloud logging ...", "... cloud uploads").
INFO_PREFIXES = (
    "💡 Tip: For seamless cloud ",
    "GPU available: ",
    "TPU available: ",
    "HPU available: ",
    "Loading `train_dataloader` to estimate number of stepping batches",
    "Restoring states from the checkpoint path at ",
    "Restored all states from the checkpoint at ",
    "Loaded model weights from the checkpoint at ",
    "`Trainer.fit` stopped: `max_epochs=",
    # the run header names the precision
    "Using 16bit Automatic Mixed Precision (AMP)",
    "Using bfloat16 Automatic Mixed Precision (AMP)",
)
WARNINGS = (
    # Lightning's own pytree helper uses a class torch has deprecated; nothing a user can change.
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", r"pytorch_lightning\.utilities\._pytree"),
    # torch 2.4-2.5 on Lightning's resume: seqkit has already read the same checkpoint with weights_only=True
    # (seqkit.run.checkpoint.read_checkpoint) before Lightning loads it.
    (r"You are using `torch\.load` with `weights_only=False`", r"lightning_fabric\.utilities\.cloud_io"),
)


class _KnownInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not str(record.msg).startswith(INFO_PREFIXES)


_FILTER = _KnownInfo()


def quiet_known_noise() -> None:
    """Install the filters (idempotent): Lightning's lines in ``INFO_PREFIXES``, and the warnings in ``WARNINGS``."""
    logger = logging.getLogger(LIGHTNING_LOG)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    for message, module in WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=module)
