"""Decoding on hand-built models: greedy vs beam, length penalty, n-gram blocking, lengths; attention; copying."""

from __future__ import annotations

import math

import pytest
import torch
from seqkit_seq2seq.attention import Attention
from seqkit_seq2seq.search import SearchOptions, beam_search, greedy_search

from seqkit.tokenize import EOS_ID, UNK_ID

A, B, C = 4, 5, 6
VOCAB = 7


class TreeModel:
    """A decoder whose next-token distribution is a fixed table keyed by the tokens generated so far.

    The state is the history itself, ``(N, t)``; prefixes not in the table end with probability 0.97.
    """

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]]) -> None:
        self.table = table

    def step(self, previous, state, memory):
        history = torch.cat([state, previous[:, None]], 1)  # <bos> y1 … y_t
        rows = []
        for seq in history[:, 1:].tolist():
            dist = self.table.get(tuple(seq), {EOS_ID: 0.97})
            probs = torch.full((VOCAB,), 1e-4)
            for token, p in dist.items():
                probs[token] = p
            rows.append(probs / probs.sum())
        weights = torch.full((len(rows), 2), 0.5)
        return torch.stack(rows).log(), weights, history, None

    def reorder(self, state, memory, index):
        return state.index_select(0, index), memory


def run(model: TreeModel, mode: str, batch: int = 1, **options):
    state = torch.zeros(batch, 0, dtype=torch.long)
    lengths = torch.full((batch,), 3)
    search = greedy_search if mode == "greedy" else beam_search
    return search(model, None, state, lengths, SearchOptions(**options))


# Greedy takes A (0.6) and then ends (0.4): 0.24. Beam search finds B <eos>: 0.4 × 0.9 = 0.36.
GARDEN = {(): {A: 0.6, B: 0.4}, (A,): {EOS_ID: 0.4, A: 0.2, B: 0.2, C: 0.2}, (B,): {EOS_ID: 0.9, C: 0.1}}


def test_beam_finds_the_sequence_greedy_misses():
    greedy = run(TreeModel(GARDEN), "greedy")[0][0]
    beam = run(TreeModel(GARDEN), "beam", beam_size=2)[0][0]
    assert greedy.tokens == [A]
    assert beam.tokens == [B]
    assert beam.log_prob > greedy.log_prob
    assert beam.log_prob == pytest.approx(math.log(0.4 * 0.9), abs=1e-3)


def test_beam_of_one_equals_greedy():
    torch.manual_seed(0)
    table = {}
    for prefix in [(), (A,), (B,), (C,), (A, B), (B, C), (C, A), (A, A)]:
        p = torch.rand(VOCAB - 3)
        p = (p / p.sum()).tolist()
        table[prefix] = {t: p[t - 3] for t in range(3, VOCAB)}
    for options in ({}, {"min_length": 2}, {"no_repeat_ngram_size": 2}, {"max_length": 3}):
        greedy = run(TreeModel(table), "greedy", batch=2, **options)
        beam = run(TreeModel(table), "beam", batch=2, beam_size=1, **options)
        for g, b in zip(greedy, beam):
            assert g[0].tokens == b[0].tokens
            assert g[0].log_prob == pytest.approx(b[0].log_prob, abs=1e-5)


def test_length_penalty_prefers_the_longer_hypothesis_as_specified():
    # "A": log 0.5; "B C": log 0.5 + log 0.9. GNMT: divide by ((5 + |y|) / 6) ** alpha, |y| counting <eos>.
    table = {(): {A: 0.5, B: 0.5}, (A,): {EOS_ID: 0.999}, (B,): {C: 0.999}, (B, C): {EOS_ID: 0.9, A: 0.0999}}
    short = run(TreeModel(table), "beam", beam_size=2, length_penalty=0.0)[0][0]
    long = run(TreeModel(table), "beam", beam_size=2, length_penalty=2.0)[0][0]
    assert short.tokens == [A] and long.tokens == [B, C]
    expected = (math.log(0.5) + math.log(0.999) + math.log(0.9)) / ((5 + 3) / 6) ** 2
    assert long.score == pytest.approx(expected, abs=2e-3)


def test_ngram_blocking_forbids_repeats():
    loop = {(): {A: 0.9}, (A,): {B: 0.9}, (A, B): {A: 0.9}, (A, B, A): {B: 0.9, C: 0.05}, (A, B, A, C): {}}
    plain = run(TreeModel(loop), "beam", beam_size=2)[0][0]
    blocked = run(TreeModel(loop), "beam", beam_size=2, no_repeat_ngram_size=2)[0][0]
    assert plain.tokens[:4] == [A, B, A, B]
    assert blocked.tokens[:4] == [A, B, A, C]
    bigrams = list(zip(blocked.tokens, blocked.tokens[1:]))
    assert len(bigrams) == len(set(bigrams))


@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_min_and_max_length(mode):
    stop = {(): {EOS_ID: 0.9, A: 0.1}}
    assert run(TreeModel(stop), mode)[0][0].tokens == []
    assert len(run(TreeModel(stop), mode, min_length=2)[0][0].tokens) >= 2
    endless = {(): {A: 1.0}, **{(A,) * n: {A: 1.0} for n in range(1, 20)}}
    width = {} if mode == "greedy" else {"beam_size": 3, "n_best": 3}
    for options in ({"max_length": 4}, {"max_length_a": 1.0, "max_length_b": 1}):  # relative: 3 × 1 + 1
        found = run(TreeModel(endless), mode, **options, **width)[0]
        assert all(len(h.tokens) <= 4 for h in found)
        assert mode == "beam" or found[0].tokens == [A] * 4


def test_n_best_returns_several_hypotheses_best_first():
    found = run(TreeModel(GARDEN), "beam", beam_size=3, n_best=3)[0]
    assert len(found) == 3
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)
    assert found[0].tokens == [B]


@pytest.mark.parametrize("kind", ["additive", "dot", "general"])
def test_attention_sums_to_one_and_ignores_padding(kind):
    torch.manual_seed(0)
    attention = Attention(kind, 8, 8, coverage=kind == "additive")
    memory = torch.randn(3, 5, 8)
    mask = torch.arange(5) < torch.tensor([5, 2, 1])[:, None]
    memory = memory * mask[..., None]
    context, weights = attention(torch.randn(3, 8), memory, attention.keys(memory), mask, torch.rand(3, 5))
    assert torch.allclose(weights.sum(-1), torch.ones(3))
    assert (weights[~mask] == 0).all()
    assert context.shape == (3, 8)
    # padding's contents never matter
    noisy = memory + (~mask)[..., None] * 100.0
    _, again = attention(torch.randn(3, 8).new_zeros(3, 8), noisy, attention.keys(noisy), mask, None)
    _, clean = attention(torch.zeros(3, 8), memory, attention.keys(memory), mask, None)
    assert torch.allclose(again, clean)


def test_dot_attention_needs_equal_widths():
    with pytest.raises(ValueError, match="general"):
        Attention("dot", 8, 16)


@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_when_every_continuation_is_forbidden_the_hypothesis_ends(mode):
    """Four usable words (<unk> and three), no word twice, at least six words: after four, only <eos> is left."""
    anything = {(): {A: 0.5, B: 0.3, C: 0.2}}
    width = {} if mode == "greedy" else {"beam_size": 2, "n_best": 2}
    found = run(TreeModel(anything), mode, min_length=6, no_repeat_ngram_size=1, **width)[0]
    assert found, "no hypothesis at all"
    for hypothesis in found:
        assert sorted(hypothesis.tokens) == [UNK_ID, A, B, C]
        assert math.isfinite(hypothesis.log_prob) and math.isfinite(hypothesis.score)


def test_a_beam_beyond_the_limit_is_refused_before_any_search():
    from seqkit_seq2seq.search import MAX_BEAM

    SearchOptions(beam_size=MAX_BEAM)
    with pytest.raises(ValueError, match=rf"beam_size must be in \[1, {MAX_BEAM}\], got 1000000000"):
        SearchOptions(beam_size=10**9)
