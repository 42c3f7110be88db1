"""The text plugin's tokenizers: round trips, vocabularies, state, special tokens never read out of the text."""

from __future__ import annotations

import pytest
from seqkit_text.bpe import BPETokenizer
from seqkit_text.tokenizers import CharTokenizer, WordTokenizer

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
