"""The tagging CRF against brute-force enumeration in float64, and constrained decoding's validity."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from seqkit_tagging.crf import CRF
from seqkit_tagging.schemes import allowed_transitions

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
IOBES = ["O", "B-X", "I-X", "E-X", "S-X"]


def _crf(tags: list[str], scheme: str, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(len(tags), *allowed_transitions(tags, scheme)).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def _path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    """The score of one path written out term by term, forbidden transitions included at their penalty."""
    trans, start, end = crf._scores(emissions.dtype)
    total = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
    for t in range(1, len(path)):
        total = total + trans[path[t - 1], path[t]] + emissions[t, path[t]]
    return total


def _brute(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    scores = torch.stack([_path_score(crf, emissions[:length], p) for p in paths])
    return torch.logsumexp(scores, 0), paths[int(scores.argmax())]


@pytest.mark.parametrize(("tags", "scheme"), [(TAGS, "iob"), (IOBES, "iobes"), (TAGS, "none")])
def test_partition_best_path_and_score_match_enumeration(tags: list[str], scheme: str) -> None:
    crf = _crf(tags, scheme)
    lengths = torch.tensor([4, 1, 3])
    emissions = torch.randn(3, 4, len(tags), dtype=torch.float64)
    log_z = crf.log_partition(emissions, lengths)
    best = crf.decode(emissions, lengths)
    gold = torch.randint(len(tags), (3, 4))
    gold[1, 1:] = -100  # padding labels are ignored
    scores = crf.score(emissions, gold, lengths)
    for b, n in enumerate(lengths.tolist()):
        z, path = _brute(crf, emissions[b], n)
        torch.testing.assert_close(log_z[b], z)
        assert tuple(best[b, :n].tolist()) == path
        assert best[b, n:].eq(0).all()
        torch.testing.assert_close(scores[b], _path_score(crf, emissions[b, :n], tuple(gold[b, :n].tolist())))


def test_gradients_match_enumeration() -> None:
    crf = _crf(TAGS, "iob", seed=1)
    emissions = torch.randn(1, 3, len(TAGS), dtype=torch.float64, requires_grad=True)
    gold = torch.tensor([[1, 2, 0]])
    nll = crf.nll(emissions, gold, torch.tensor([3]))[0]
    ours = torch.autograd.grad(nll, [emissions, crf.transitions, crf.start, crf.end])
    z, _ = _brute(crf, emissions[0], 3)
    reference = torch.autograd.grad(
        z - _path_score(crf, emissions[0], (1, 2, 0)), [emissions, crf.transitions, crf.start, crf.end]
    )
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b)
    # the expected emission counts: each position's marginals sum to one, less the gold path's one
    torch.testing.assert_close(ours[0].sum(-1), torch.zeros(1, 3, dtype=torch.float64))


def test_padding_does_not_change_a_sentence() -> None:
    crf = _crf(TAGS, "iob", seed=2)
    emissions = torch.randn(1, 3, len(TAGS), dtype=torch.float64)
    padded = torch.cat([emissions, torch.randn(1, 4, len(TAGS), dtype=torch.float64)], dim=1)
    n = torch.tensor([3])
    torch.testing.assert_close(crf.log_partition(padded, n), crf.log_partition(emissions, n))
    assert crf.decode(padded, n)[0, :3].tolist() == crf.decode(emissions, n)[0].tolist()


@settings(max_examples=60, deadline=None)
@given(
    scheme=st.sampled_from(["iob", "iobes"]),
    seed=st.integers(0, 2**16),
    steps=st.integers(1, 9),
    scale=st.floats(0.1, 30.0),
)
def test_constrained_decoding_never_emits_a_forbidden_transition(scheme: str, seed: int, steps: int, scale: float):
    tags = TAGS if scheme == "iob" else ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"]
    crf = _crf(tags, scheme, seed)
    allowed, start, end = allowed_transitions(tags, scheme)
    generator = torch.Generator().manual_seed(seed)
    emissions = scale * torch.randn(4, steps, len(tags), generator=generator, dtype=torch.float64)
    lengths = torch.randint(1, steps + 1, (4,), generator=generator)
    for row, n in zip(crf.decode(emissions, lengths).tolist(), lengths.tolist()):
        path = row[:n]
        assert start[path[0]] and end[path[-1]], (scheme, [tags[i] for i in path])
        assert all(allowed[a, b] for a, b in itertools.pairwise(path)), (scheme, [tags[i] for i in path])


def test_transitions_seen_in_the_data_are_allowed() -> None:
    allowed, start, _ = allowed_transitions(TAGS, "iob")
    assert not allowed[0, 2] and not start[2]  # O → I-PER, and a sentence opening with I-PER: IOB2 forbids them
    assert allowed[1, 2] and allowed[2, 2] and not allowed[3, 2]  # I-PER only continues a PER
    allowed, start, _ = allowed_transitions(TAGS, "iob", [["I-PER", "O", "I-PER"]])  # IOB1 data
    assert allowed[0, 2] and start[2]
