"""The ``translation`` task: the shared encoder–decoder, scored with corpus BLEU and chrF on decoded text."""

from __future__ import annotations

from typing import Any

from seqkit_seq2seq.metrics import bleu, chrf
from seqkit_seq2seq.task import Seq2SeqTask


class TranslationTask(Seq2SeqTask):
    """Source sentence → target sentence; ``val/bleu`` and ``val/chrf`` (0–100, SacreBLEU's definitions)."""

    monitor = "val/bleu"
    monitor_mode = "max"

    def metrics(self) -> dict[str, Any]:
        return {"bleu": bleu(), "chrf": chrf()}
