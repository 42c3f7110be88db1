"""The ``summarization`` task: the shared encoder–decoder with a pointer-generator copy mechanism, ROUGE."""

from __future__ import annotations

from typing import Any

from seqkit_seq2seq.metrics import rouge
from seqkit_seq2seq.task import Seq2SeqTask


class SummarizationTask(Seq2SeqTask):
    """Document → summary. ``copy`` (on by default) and ``coverage_weight`` follow See et al. (2017);
    ``max_source_length`` truncates documents; ``min_length`` keeps summaries from stopping early.
    Scored with ROUGE-1, ROUGE-2 and ROUGE-L F-measures (0–100, as rouge-score computes them)."""

    monitor = "val/rougeL"
    monitor_mode = "max"
    copy_default = True

    def metrics(self) -> dict[str, Any]:
        return {"rouge1": rouge("rouge1"), "rouge2": rouge("rouge2"), "rougeL": rouge("rougeL")}
