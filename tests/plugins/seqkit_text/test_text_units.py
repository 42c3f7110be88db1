"""Unit tests: tokenizers (round trips, vocabularies), length bucketing, pooling modes, the synthetic corpus."""

from __future__ import annotations

import pytest
import torch
from seqkit_sentiment.model import pool
from seqkit_sentiment.synthetic import synthetic_sentiment
from seqkit_text.bpe import BPETokenizer
from seqkit_text.tokenizers import CharTokenizer, WordTokenizer

from seqkit.batching import BucketBatchSampler, pad_sequences
from seqkit.tokenize import BOS_ID, EOS_ID, PAD_ID, UNK_ID

TEXTS = ["The movie wasn't bad, really.", "a dull , tedious plot", "the plot was fun"]


def test_word_tokenizer_round_trip_and_vocabulary():
    tok = WordTokenizer().fit(TEXTS)
    assert tok.split("The movie wasn't bad, really.") == ["the", "movie", "wasn't", "bad", ",", "really", "."]
    ids = tok.encode("the plot was fun")
    assert UNK_ID not in ids and tok.decode(ids) == "the plot was fun"
    assert tok.encode("the unseenword")[1] == UNK_ID
    assert set(tok.itos[4:7]) == {"the", ",", "plot"}  # most frequent first
    capped = WordTokenizer(min_freq=2).fit(TEXTS)
    assert set(capped.itos[4:]) == {"the", ",", "plot"}
    assert WordTokenizer(max_size=6).fit(TEXTS).vocab_size == 6


def test_word_tokenizer_state_round_trip():
    tok = WordTokenizer().fit(TEXTS)
    again = WordTokenizer()
    again.load_state_dict(tok.state_dict())
    assert again.encode(TEXTS[1]) == tok.encode(TEXTS[1])


def test_char_tokenizer_for_unsegmented_text():
    tok = CharTokenizer().fit(["这部电影很好看", "太无聊了"])
    assert tok.split("很 好") == ["很", "好"]
    assert tok.decode(tok.encode("电影很无聊")) == "电影很无聊"


def test_bpe_trains_offline_and_round_trips():
    corpus = ["the acting was wonderful and the plot was wonderfully paced"] * 20 + ["a boring plot"] * 5
    tok = BPETokenizer(vocab_size=60, min_freq=1).fit(corpus)
    assert tok.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    ids = tok.encode("the plot was wonderful")
    assert tok.decode(ids) == "the plot was wonderful"
    restored = BPETokenizer()
    restored.load_state_dict(tok.state_dict())
    assert restored.encode("a boring plot") == tok.encode("a boring plot")
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer(vocab_size=3)


def test_bpe_never_reads_special_tokens_out_of_the_text():
    """A sentence that spells "<eos>" or "<pad>" keeps those characters: input cannot end or pad a sequence."""
    text = "stop <eos> here <pad> and <bos> <unk>"
    fitted = BPETokenizer(vocab_size=200, min_freq=1).fit([text, "more text"])
    restored = BPETokenizer()  # as a checkpoint brings it back
    restored.load_state_dict(fitted.state_dict())
    for tok in (fitted, restored):
        ids = tok.encode(text)
        assert not {PAD_ID, BOS_ID, EOS_ID} & set(ids), ids
        assert tok.decode(ids) == text


def test_bucketing_covers_every_index_once_with_close_lengths():
    lengths = [int(x) for x in torch.randint(1, 200, (1000,), generator=torch.Generator().manual_seed(0))]
    sampler = BucketBatchSampler(lengths, 16, shuffle=True, seed=1, pool=10)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 40  # random batches would spread ~180
    again = list(BucketBatchSampler(lengths, 16, shuffle=True, seed=1, pool=10))
    assert again == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_bucketing_for_evaluation_and_ddp_shards():
    lengths = [3, 9, 1, 7, 5]
    assert list(BucketBatchSampler(lengths, 2, shuffle=False)) == [[1, 3], [4, 0], [2]]
    shards = [list(BucketBatchSampler(list(range(50)), 4, shuffle=True, num_replicas=3, rank=r)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1  # lockstep under DDP
    assert set(i for s in shards for b in s for i in b) == set(range(50))


def test_pad_sequences():
    tokens, lengths = pad_sequences([[5, 6, 7], [8]])
    assert tokens.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]] and lengths.tolist() == [3, 1]


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
