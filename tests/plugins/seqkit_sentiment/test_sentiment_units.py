"""The sentiment plugin's parts: pooling modes that ignore padding, and a synthetic corpus bag-of-words cannot learn."""

from __future__ import annotations

import torch
from seqkit_sentiment.model import pool
from seqkit_sentiment.synthetic import synthetic_sentiment


def test_pooling_modes_ignore_padding():
    outputs = torch.tensor([[[1.0, -1.0], [3.0, 5.0], [99.0, 99.0]], [[2.0, 4.0], [-9.0, -9.0], [-9.0, -9.0]]])
    lengths = torch.tensor([2, 1])
    assert pool(outputs, lengths, "mean").tolist() == [[2.0, 2.0], [2.0, 4.0]]
    assert pool(outputs, lengths, "max").tolist() == [[3.0, 5.0], [2.0, 4.0]]
    assert pool(outputs, lengths, "last").tolist() == [[3.0, 5.0], [2.0, 4.0]]
    # bidirectional last: forward half at the last valid step, backward half at step 0
    assert pool(outputs, lengths, "last", hidden=1, bidirectional=True).tolist() == [[3.0, -1.0], [2.0, 4.0]]
    scores = torch.nn.Linear(2, 1, bias=False)
    weights = torch.softmax(scores(outputs[0, :2]).squeeze(-1), 0)
    expected = (weights[:, None] * outputs[0, :2]).sum(0)
    assert torch.allclose(pool(outputs, lengths, "attention", scores)[0], expected)


def test_synthetic_corpus_defeats_bag_of_words():
    """Every word is as common in positive as in negative reviews: a linear bag-of-words model stays near chance."""
    records = synthetic_sentiment(size=3000, seed=0)
    assert records == synthetic_sentiment(size=3000, seed=0)
    assert {r["label"] for r in records} == {"positive", "negative"}
    assert any("but" in r["text"] for r in records) and any(" not " in r["text"] for r in records)
    vocab = sorted({w for r in records for w in r["text"].split()})
    index = {w: i for i, w in enumerate(vocab)}
    x = torch.zeros(len(records), len(vocab))
    for row, r in enumerate(records):
        for w in r["text"].split():
            x[row, index[w]] += 1
    y = torch.tensor([r["label"] == "positive" for r in records], dtype=torch.float)
    torch.manual_seed(0)
    linear = torch.nn.Linear(len(vocab), 1)
    opt = torch.optim.Adam(linear.parameters(), 0.05)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(linear(x).squeeze(-1), y).backward()
        opt.step()
    train_accuracy = ((linear(x).squeeze(-1) > 0).float() == y).float().mean().item()
    assert train_accuracy < 0.65  # even on its own training data
