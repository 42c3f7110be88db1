"""Generation metrics equal the reference implementations (sacrebleu, rouge-score) on fixed strings."""

from __future__ import annotations

import pytest
from seqkit_seq2seq.metrics import bleu, chrf, rouge

HYPOTHESES = [
    "The cat sat on the mat.",
    "There is a dog in the garden, isn't there?",
    "I have never seen such a beautiful sunset",
    "Er ist gestern nach Hause gegangen.",
]
REFERENCES = [
    "The cat is sitting on the mat.",
    "A dog is in the garden, isn't it?",
    "I've never seen so beautiful a sunset.",
    "Er ging gestern nach Hause.",
]


def _fed(metric, hypotheses, references, split=2):
    metric.update(hypotheses[:split], references[:split])  # two batches, as in an evaluation epoch
    metric.update(hypotheses[split:], references[split:])
    return float(metric.compute())


def test_bleu_and_chrf_equal_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    refs = [[r] for r in REFERENCES]
    expected_bleu = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score
    expected_chrf = sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score
    assert _fed(bleu(), HYPOTHESES, refs) == pytest.approx(expected_bleu, abs=1e-3)
    assert _fed(chrf(), HYPOTHESES, refs) == pytest.approx(expected_chrf, abs=1e-3)


def test_rouge_equals_rouge_score_with_several_references():
    scorer_module = pytest.importorskip("rouge_score.rouge_scorer")
    references = [[r, h + " indeed"] if i % 2 else [r] for i, (r, h) in enumerate(zip(REFERENCES, HYPOTHESES))]
    for key in ("rouge1", "rouge2", "rougeL"):
        scorer = scorer_module.RougeScorer([key])
        best = [max(scorer.score(ref, hyp)[key].fmeasure for ref in refs) for hyp, refs in zip(HYPOTHESES, references)]
        expected = 100 * sum(best) / len(best)
        assert _fed(rouge(key), HYPOTHESES, references) == pytest.approx(expected, abs=1e-3), key
