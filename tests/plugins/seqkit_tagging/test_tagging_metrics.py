"""Entity precision/recall/F1 against seqeval (conlleval's definition) on random tags, ill-formed ones included."""

from __future__ import annotations

import os
import random

import pytest
import torch
from seqkit_tagging.metrics import EntityScore, entity_types, sentence_spans
from seqkit_tagging.schemes import entity_spans

try:
    import seqeval.metrics.sequence_labeling as seqeval
except ImportError:  # the `reference` extra (see pyproject.toml); CI installs it and sets SEQKIT_REQUIRE_REFERENCES=1
    if os.environ.get("SEQKIT_REQUIRE_REFERENCES") == "1":
        raise
    pytest.skip("seqeval (the reference) is not installed", allow_module_level=True)

IOB = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
IOBES = [*IOB, "E-PER", "S-PER", "E-LOC", "S-LOC"]


def _sentences(rng: random.Random, tags: list[str], count: int) -> list[list[str]]:
    return [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(count)]


@pytest.mark.parametrize("tags", [IOB, IOBES], ids=["iob", "iobes"])
@pytest.mark.parametrize("seed", range(4))
def test_scores_match_seqeval(tags: list[str], seed: int) -> None:
    rng = random.Random(seed)
    gold = _sentences(rng, tags, 60)
    # predictions: the gold tags with a third of them changed, so that some entities match and some do not
    predicted = [[t if rng.random() < 0.66 else rng.choice(tags) for t in sentence] for sentence in gold]
    index = {t: i for i, t in enumerate(tags)}
    ours_spans = sentence_spans([[index[t] for t in s] for s in predicted], tags)
    gold_spans = sentence_spans([[index[t] for t in s] for s in gold], tags)
    kinds = entity_types(tags)
    p, r, f, _ = seqeval.precision_recall_fscore_support(gold, predicted, average=None)
    theirs = {k: (p[i], r[i], f[i]) for i, k in enumerate(sorted(kinds))}
    for kind in kinds:
        for j, score in enumerate(("precision", "recall", "f1")):
            metric = EntityScore(kind, score)
            metric.update(ours_spans[:30], gold_spans[:30])  # in two updates: the counts accumulate
            metric.update(ours_spans[30:], gold_spans[30:])
            assert float(metric.compute()) == pytest.approx(theirs[kind][j], abs=1e-6), (kind, score)
    p, r, f, _ = seqeval.precision_recall_fscore_support(gold, predicted, average="micro")
    for score, value in (("precision", p), ("recall", r), ("f1", f)):
        metric = EntityScore(None, score)
        metric.update(ours_spans, gold_spans)
        assert float(metric.compute()) == pytest.approx(value, abs=1e-6), score


def test_spans_read_ill_formed_sequences_as_conlleval() -> None:
    assert entity_spans(["I-PER", "I-PER", "O"]) == [("PER", 0, 2)]  # I- after the start opens an entity
    assert entity_spans(["B-PER", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 2)]  # a type change splits
    assert entity_spans(["B-PER", "B-PER"]) == [("PER", 0, 1), ("PER", 1, 2)]
    assert entity_spans(["S-LOC", "B-PER", "E-PER"]) == [("LOC", 0, 1), ("PER", 1, 3)]
    assert entity_spans(["NN", "VB"]) == []  # tags without an entity prefix are outside


def test_nothing_to_count_scores_zero() -> None:
    metric = EntityScore(None, "f1")
    metric.update([[]], [[]])
    assert float(metric.compute()) == 0.0
    metric = EntityScore("PER", "precision")
    metric.update([[]], [[("PER", 0, 1)]])
    assert float(metric.compute()) == 0.0
    assert metric.correct.dtype == torch.long
