"""Generation metrics on 0–100 scales, as SacreBLEU and rouge-score report them: ``bleu``, ``chrf``, ``rouge*``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def bleu() -> Any:
    """Corpus BLEU with SacreBLEU's defaults (13a tokenization, 4-grams, no smoothing), 0–100."""
    from torchmetrics.text import SacreBLEUScore

    class BLEU(SacreBLEUScore):
        def compute(self) -> Tensor:
            return super().compute() * 100

    return BLEU(tokenize="13a")


def chrf() -> Any:
    """Corpus chrF as SacreBLEU defines it (character 6-grams, β = 2, no word n-grams), 0–100."""
    from torchmetrics.text import CHRFScore

    class ChrF(CHRFScore):
        def compute(self) -> Tensor:
            return super().compute() * 100

    return ChrF(n_char_order=6, n_word_order=0, beta=2.0)


def rouge(key: str) -> Any:
    """Mean ROUGE F-measure *key* (``rouge1``, ``rouge2``, ``rougeL``) as rouge-score computes it (no stemming;
    with several references, each output's best), 0–100."""
    from torchmetrics.text.rouge import ROUGEScore

    class Rouge(ROUGEScore):
        def compute(self) -> Tensor:
            if not self._update_count:  # nothing scored (torchmetrics would answer NaN): 0, as BLEU answers
                return torch.tensor(0.0)
            return super().compute()[f"{key}_fmeasure"] * 100

    return Rouge(rouge_keys=(key,), accumulate="best")
