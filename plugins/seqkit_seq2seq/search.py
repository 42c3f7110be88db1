"""Decoding shared by the generation tasks: greedy and batched beam search with GNMT length penalty,
``min_length``, absolute and source-relative ``max_length``, n-gram repeat blocking and ``n_best``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from seqkit import BOS_ID, EOS_ID, PAD_ID

NEG_INF = float("-inf")


# Beyond this a beam costs memory and time (beam × vocabulary scores a step) for nothing: a `seqkit serve` request or
# a recipe asking for millions of hypotheses is refused rather than allowed to exhaust the machine.
MAX_BEAM = 256


@dataclass
class SearchOptions:
    """How to decode. Lengths count generated tokens before ``<eos>``.

    ``max_length`` is absolute; with ``max_length_a`` set, each sentence's limit is also at most
    ``max_length_a · source_length + max_length_b`` (fairseq's ``--max-len-a/b``). ``<eos>`` is forbidden
    before ``min_length`` tokens and forced at the limit. ``length_penalty`` is GNMT's α: a finished
    hypothesis is ranked by ``log P / ((5 + |y|) / 6) ** α`` with ``|y|`` counting its ``<eos>``; 0 ranks
    by log-probability. ``no_repeat_ngram_size`` n > 0 forbids any n-gram to occur twice.
    """

    beam_size: int = 5
    n_best: int = 1
    length_penalty: float = 0.0
    min_length: int = 0
    max_length: int = 100
    max_length_a: float | None = None
    max_length_b: int = 10
    no_repeat_ngram_size: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.beam_size <= MAX_BEAM:
            raise ValueError(f"beam_size must be in [1, {MAX_BEAM}], got {self.beam_size}")
        if not 1 <= self.n_best <= self.beam_size:
            raise ValueError(f"n_best must be in [1, beam_size={self.beam_size}], got {self.n_best}")
        if self.max_length < 1 or self.min_length < 0 or self.min_length >= self.max_length:
            raise ValueError(
                f"need 0 <= min_length < max_length and max_length >= 1, got {self.min_length} and {self.max_length}"
            )
        if self.length_penalty < 0 or self.no_repeat_ngram_size < 0:
            raise ValueError("length_penalty and no_repeat_ngram_size must not be negative")

    def limits(self, source_lengths: Tensor) -> list[int]:
        """Each sentence's maximum output length."""
        out = []
        for n in source_lengths.tolist():
            limit = self.max_length
            if self.max_length_a is not None:
                limit = min(limit, int(self.max_length_a * n + self.max_length_b))
            out.append(max(limit, self.min_length + 1))
        return out

    def penalty(self, length: int) -> float:
        return ((5.0 + length) / 6.0) ** self.length_penalty


@dataclass
class Hypothesis:
    tokens: list[int]  # without <bos> and <eos>
    score: float  # log-probability divided by the length penalty
    log_prob: float
    attention: Tensor = field(repr=False)  # (len(tokens) + 1, S): the weights each step read


class Decoder(Protocol):
    """What search needs of a model (``Seq2SeqModel`` is one).

    ``step(previous (N,), state, memory) -> (log_probs (N, V), attention (N, S), state, extra)`` and
    ``reorder(state, memory, index (N',)) -> (state, memory)`` keeping rows *index*.
    """

    def step(self, previous: Tensor, state: Any, memory: Any) -> tuple[Tensor, Tensor, Any, Tensor]: ...

    def reorder(self, state: Any, memory: Any, index: Tensor) -> tuple[Any, Any]: ...


def constrain(log_probs: Tensor, history: Tensor, step: int, limits: Tensor, options: SearchOptions) -> Tensor:
    """``log_probs (N, V)`` with forbidden continuations at -inf: specials, early ``<eos>``, repeated n-grams,
    anything but ``<eos>`` at the limit. ``history (N, t)`` holds the tokens generated so far."""
    log_probs = log_probs.clone()
    eos = log_probs[:, EOS_ID].clone()
    log_probs[:, PAD_ID] = NEG_INF
    log_probs[:, BOS_ID] = NEG_INF
    if step < options.min_length:
        log_probs[:, EOS_ID] = NEG_INF
    n = options.no_repeat_ngram_size
    if n > 0 and history.shape[1] >= n - 1 and history.shape[1] > 0:
        for row, seq in enumerate(history.tolist()):
            prefix = tuple(seq[len(seq) - n + 1 :]) if n > 1 else ()
            banned = [seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == prefix]
            if banned:
                log_probs[row, banned] = NEG_INF
    stuck = ~torch.isfinite(log_probs).any(-1)
    if stuck.any():
        # Every continuation is forbidden (a small vocabulary under min_length and n-gram blocking): ending
        # here is the one way on, as in fairseq, rather than a hypothesis with no tokens or a -inf score.
        log_probs[stuck, EOS_ID] = torch.where(torch.isfinite(eos[stuck]), eos[stuck], torch.zeros_like(eos[stuck]))
    force = limits <= step
    if force.any():
        log_probs[force] = NEG_INF
        log_probs[force, EOS_ID] = torch.where(torch.isfinite(eos[force]), eos[force], torch.zeros_like(eos[force]))
    return log_probs


@torch.no_grad()
def greedy_search(
    model: Decoder, memory: Any, state: Any, source_lengths: Tensor, options: SearchOptions
) -> list[list[Hypothesis]]:
    """The most probable token at every step, for the whole batch at once; one hypothesis per sentence."""
    batch = source_lengths.shape[0]
    device = source_lengths.device
    limits = options.limits(source_lengths)
    limit_t = torch.tensor(limits, device=device)
    tokens = torch.full((batch, 1), BOS_ID, dtype=torch.long, device=device)
    total = torch.zeros(batch, device=device)
    ended = torch.full((batch,), -1, dtype=torch.long, device=device)  # the step each sentence emitted <eos>
    attention = []
    for t in range(max(limits) + 1):
        log_probs, weights, state, _ = model.step(tokens[:, -1], state, memory)
        attention.append(weights)
        log_probs = constrain(log_probs.float(), tokens[:, 1:], t, limit_t, options)
        best, choice = log_probs.max(-1)
        alive = ended < 0
        total = total + torch.where(alive, best, torch.zeros_like(best))
        ended = torch.where(alive & (choice == EOS_ID), torch.full_like(ended, t), ended)
        tokens = torch.cat([tokens, choice.unsqueeze(1)], 1)
        if bool((ended >= 0).all()):
            break
    weights = torch.stack(attention, 1)  # (B, T, S)
    results = []
    for b, (end, lp) in enumerate(zip(ended.tolist(), total.tolist())):
        results.append(
            [Hypothesis(tokens[b, 1 : end + 1].tolist(), lp / options.penalty(end + 1), lp, weights[b, : end + 1])]
        )
    return results


@torch.no_grad()
def beam_search(
    model: Decoder, memory: Any, state: Any, source_lengths: Tensor, options: SearchOptions
) -> list[list[Hypothesis]]:
    """Beam search batched over (batch × beam) rows; ``options.n_best`` hypotheses per sentence, best first.

    Each step extends every live hypothesis, keeps the ``2K`` best candidates per sentence, retires those
    ending in ``<eos>`` among the best ``K`` (scored with the length penalty) and continues the ``K`` best
    others. A sentence is done when it has ``K`` finished hypotheses and no live one can still beat the
    ``K``-th of them (log-probabilities only fall; the largest penalty a live one can reach bounds its
    score), or when it reaches its length limit, where ``<eos>`` is forced.
    """
    batch = source_lengths.shape[0]
    k = options.beam_size
    device = source_lengths.device
    rows = torch.arange(batch, device=device).repeat_interleave(k)
    state, memory = model.reorder(state, memory, rows)
    limits = options.limits(source_lengths)
    limit_t = torch.tensor(limits, device=device).repeat_interleave(k)
    scores = torch.full((batch, k), NEG_INF, device=device)
    scores[:, 0] = 0.0
    tokens = torch.full((batch * k, 1), BOS_ID, dtype=torch.long, device=device)
    attention: Tensor | None = None
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch
    for t in range(max(limits) + 1):
        log_probs, weights, state, _ = model.step(tokens[:, -1], state, memory)
        history = weights.unsqueeze(1) if attention is None else torch.cat([attention, weights.unsqueeze(1)], 1)
        log_probs = constrain(log_probs.float(), tokens[:, 1:], t, limit_t, options)
        vocab = log_probs.shape[-1]
        candidates = (scores.view(-1, 1) + log_probs).view(batch, k * vocab)
        top_scores, top_ids = candidates.topk(min(2 * k, k * vocab), dim=-1)
        new_scores = [[NEG_INF] * k for _ in range(batch)]
        source_rows = [[b * k + i for i in range(k)] for b in range(batch)]
        new_tokens = [[PAD_ID] * k for _ in range(batch)]
        for b, (row_scores, row_ids) in enumerate(zip(top_scores.tolist(), top_ids.tolist())):
            if done[b]:
                continue
            alive = 0
            for rank, (s, idx) in enumerate(zip(row_scores, row_ids)):
                if s == NEG_INF:
                    break
                row, token = b * k + idx // vocab, idx % vocab
                if token == EOS_ID:
                    if rank < k:
                        seq = tokens[row, 1:].tolist()
                        finished[b].append(Hypothesis(seq, s / options.penalty(len(seq) + 1), s, history[row]))
                    continue
                new_scores[b][alive], source_rows[b][alive], new_tokens[b][alive] = s, row, token
                alive += 1
                if alive == k:
                    break
            if alive == 0 or _settled(finished[b], new_scores[b][0], limits[b], options):
                done[b] = True
                new_scores[b] = [NEG_INF] * k
        if all(done):
            break
        index = torch.tensor(source_rows, device=device).view(-1)
        tokens = torch.cat([tokens.index_select(0, index), torch.tensor(new_tokens, device=device).view(-1, 1)], 1)
        attention = history.index_select(0, index)
        state, memory = model.reorder(state, memory, index)
        scores = torch.tensor(new_scores, device=device)
    return [sorted(hyps, key=lambda h: -h.score)[: options.n_best] for hyps in finished]


def _settled(finished: list[Hypothesis], best_alive: float, limit: int, options: SearchOptions) -> bool:
    """Whether no live hypothesis (best log-probability *best_alive*) can enter the sentence's ``K`` best."""
    k = options.beam_size
    if len(finished) < k:
        return False
    kth = sorted((h.score for h in finished), reverse=True)[k - 1]
    bound = best_alive / options.penalty(limit + 1) if options.length_penalty > 0 else best_alive
    return bound <= kth


def search(
    model: Decoder, memory: Any, state: Any, source_lengths: Tensor, options: SearchOptions, mode: str = "beam"
) -> list[list[Hypothesis]]:
    """``mode``: ``greedy`` or ``beam``."""
    if mode == "greedy":
        return greedy_search(model, memory, state, source_lengths, options)
    return beam_search(model, memory, state, source_lengths, options)
