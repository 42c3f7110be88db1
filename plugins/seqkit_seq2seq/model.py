"""The attentional encoder–decoder: any cell, learned bridge, input feeding, tied embeddings, pointer-generator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit import PAD_ID, UNK_ID, Recurrent, valid_mask
from seqkit_seq2seq.attention import Attention, AttentionKind

State = tuple[tuple[Tensor, ...], Tensor, Tensor]  # (decoder state parts (L, N, H)…, feed (N, H), coverage (N, S))


@dataclass
class Memory:
    """What the decoder reads at every step, for N = batch (× beam) rows."""

    outputs: Tensor  # (N, S, M) encoder outputs, zero past each source's end
    keys: Tensor  # (N, S, ·) the attention's projection of outputs
    mask: Tensor  # (N, S) True on real source positions
    source_ext: Tensor | None  # (N, S) source ids in the extended vocabulary (copy), else None
    n_ext: int  # how many temporary ids ≥ target vocabulary size this batch uses (copy)

    def select(self, index: Tensor) -> Memory:
        ext = None if self.source_ext is None else self.source_ext.index_select(0, index)
        return Memory(
            self.outputs.index_select(0, index),
            self.keys.index_select(0, index),
            self.mask.index_select(0, index),
            ext,
            self.n_ext,
        )


def select_state(state: State, index: Tensor) -> State:
    """Rows *index* of a decoder state (beam search reorders hypotheses with it)."""
    parts, feed, coverage = state
    return tuple(p.index_select(1, index) for p in parts), feed.index_select(0, index), coverage.index_select(0, index)


class Seq2SeqModel(nn.Module):
    """``forward(batch) -> (log_probs (B, T, V'), attention (B, T, S), coverage_loss (B, T))`` with teacher forcing.

    The encoder (any cell, bidirectional and multi-layer, run through the kernels) reads the source; a
    learned bridge maps its final state (every layer and direction) to the decoder's initial state; the
    unidirectional decoder runs one :meth:`Recurrent.step` per target token on ``[embedding; feed]``,
    where *feed* is the previous attentional hidden state (input feeding, Luong et al., 2015). With
    ``copy`` the output is See et al.'s (2017) mixture of generating and copying a source token, over
    ``V' = V + n_ext`` ids; otherwise ``V' = V``.
    """

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embed_dim: int,
        encoder: Recurrent,
        decoder: Recurrent,
        *,
        attention: AttentionKind = "general",
        dropout: float = 0.0,
        input_feeding: bool = True,
        tie_embeddings: bool = False,
        share_embeddings: bool = False,
        copy: bool = False,
        coverage: bool = False,
    ) -> None:
        super().__init__()
        if share_embeddings and source_vocab != target_vocab:
            raise ValueError("share_embeddings needs one vocabulary for source and target (shared_vocab: true)")
        hidden = decoder.output_size  # what the decoder outputs per step: the attention's query
        memory = encoder.output_size * encoder.num_directions
        self.target_vocab = target_vocab
        self.input_feeding = input_feeding
        self.copy = copy
        self.source_embed = _embedding(source_vocab, embed_dim)
        self.target_embed = self.source_embed if share_embeddings else _embedding(target_vocab, embed_dim)
        self.encoder = encoder
        self.decoder = decoder
        # one bridge per state component, each at its own width (an LSTM's h and c; a cell's wider or narrower parts)
        rows = encoder.num_layers * encoder.num_directions
        self.bridge = nn.ModuleList(
            nn.Linear(rows * width, decoder.num_layers * target)
            for width, target in zip(encoder.cell.state_sizes, decoder.cell.state_sizes)
        )
        self.attention = Attention(attention, hidden, memory, coverage=coverage)
        self.combine = nn.Linear(memory + hidden, hidden, bias=False)
        self.dropout = nn.Dropout(dropout)
        if tie_embeddings:
            self.out_proj = nn.Linear(hidden, embed_dim, bias=False) if hidden != embed_dim else None
            self.generator = nn.Linear(embed_dim, target_vocab)
            self.generator.weight = self.target_embed.weight
        else:
            self.out_proj = None
            self.generator = nn.Linear(hidden, target_vocab)
        self.gate = nn.Linear(memory + hidden + decoder.input_size, 1) if copy else None

    # -- encoding ------------------------------------------------------------------------------------------
    def encode(
        self, source: Tensor, lengths: Tensor, source_ext: Tensor | None = None, n_ext: int = 0
    ) -> tuple[Memory, State]:
        """``source (B, S)`` ids, ``lengths (B,)`` → the memory and the decoder's initial state."""
        outputs, final = self.encoder(self.dropout(self.source_embed(source)), lengths)  # (B, S, M)
        batch, steps = source.shape
        mask = valid_mask(lengths.to(source.device), steps)
        parts = (final,) if isinstance(final, Tensor) else tuple(final)  # each (L*D, B, H)
        layers = self.decoder.num_layers
        init = tuple(
            torch.tanh(bridge(p.transpose(0, 1).reshape(batch, -1)))
            .view(batch, layers, -1)
            .transpose(0, 1)
            .contiguous()
            for bridge, p in zip(self.bridge, parts)
        )
        feed = outputs.new_zeros(batch, self.combine.out_features)
        coverage = outputs.new_zeros(batch, steps)
        memory = Memory(outputs, self.attention.keys(outputs), mask, source_ext if self.copy else None, n_ext)
        return memory, (init, feed, coverage)

    # -- one decoder step ----------------------------------------------------------------------------------
    def step(self, previous: Tensor, state: State, memory: Memory) -> tuple[Tensor, Tensor, State, Tensor]:
        """``previous (N,)`` token ids → ``(log_probs (N, V'), attention (N, S), state, coverage_loss (N,))``."""
        attentional, weights, p_gen, state, coverage_loss = self._advance(previous, state, memory)
        return self._output(attentional, weights, p_gen, memory), weights, state, coverage_loss

    def _advance(
        self, previous: Tensor, state: State, memory: Memory
    ) -> tuple[Tensor, Tensor, Tensor | None, State, Tensor]:
        """The recurrent part of a step: attentional state ``(N, H)``, attention ``(N, S)``, p_gen ``(N, 1)``."""
        parts, feed, coverage = state
        tokens = previous.masked_fill(previous >= self.target_vocab, UNK_ID)  # copied words enter as <unk>
        x = self.dropout(self.target_embed(tokens))
        if self.input_feeding:
            x = torch.cat([x, feed], dim=-1)
        h, new_parts = self.decoder.step(x, parts[0] if len(parts) == 1 else parts)
        new_parts = (new_parts,) if isinstance(new_parts, Tensor) else tuple(new_parts)
        context, weights = self.attention(h, memory.outputs, memory.keys, memory.mask, coverage)
        attentional = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # (N, H)
        p_gen = None
        if self.gate is not None:
            p_gen = torch.sigmoid(self.gate(torch.cat([context, h, x], dim=-1)).float())  # (N, 1)
        coverage_loss = torch.minimum(weights, coverage).sum(-1)
        return attentional, weights, p_gen, (new_parts, attentional, coverage + weights), coverage_loss

    def _output(self, attentional: Tensor, weights: Tensor, p_gen: Tensor | None, memory: Memory) -> Tensor:
        """Log-probabilities ``(…, V')`` from attentional states ``(…, H)`` (any leading dimensions)."""
        out = self.dropout(attentional)
        if self.out_proj is not None:
            out = self.out_proj(out)
        logits = self.generator(out).float()  # (…, V)
        if p_gen is None:
            return F.log_softmax(logits, dim=-1)
        probs = torch.softmax(logits, dim=-1) * p_gen
        if memory.n_ext:
            probs = torch.cat([probs, probs.new_zeros(*probs.shape[:-1], memory.n_ext)], dim=-1)
        index = memory.source_ext if weights.dim() == 2 else memory.source_ext.unsqueeze(1).expand_as(weights)
        probs = probs.scatter_add(-1, index, (1 - p_gen) * weights.float())
        log_probs = probs.clamp_min(1e-12).log()
        if not memory.n_ext:
            return log_probs
        # A row owns only the temporary ids of its own source's words; the batch's others name no word for it.
        vocab = log_probs.shape[-1] - memory.n_ext
        ids = torch.arange(vocab, vocab + memory.n_ext, device=probs.device)
        owned = (memory.source_ext.unsqueeze(-1) == ids).any(1)  # (N, n_ext)
        if log_probs.dim() == 3:
            owned = owned.unsqueeze(1)
        extended = log_probs[..., vocab:].masked_fill(~owned, float("-inf"))
        return torch.cat([log_probs[..., :vocab], extended], dim=-1)

    def reorder(self, state: State, memory: Memory, index: Tensor) -> tuple[State, Memory]:
        """Rows *index* of the state and memory (beam search expands and reorders hypotheses with it)."""
        return select_state(state, index), memory.select(index)

    # -- teacher forcing -----------------------------------------------------------------------------------
    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        memory, state = self.encode(batch["source"], batch["lengths"], batch.get("source_ext"), n_ext(batch))
        inputs = batch["target_in"]  # (B, T): <bos> y1 … y_{n-1}
        states, attention, gates, coverage = [], [], [], []
        for t in range(inputs.shape[1]):
            attentional, weights, p_gen, state, cov = self._advance(inputs[:, t], state, memory)
            states.append(attentional)
            attention.append(weights)
            gates.append(p_gen)
            coverage.append(cov)
        weights = torch.stack(attention, 1)  # (B, T, S)
        p_gen = None if self.gate is None else torch.stack(gates, 1)  # (B, T, 1)
        # one output projection for every step at once: the largest matrix product, batched
        log_probs = self._output(torch.stack(states, 1), weights, p_gen, memory)
        return log_probs, weights, torch.stack(coverage, 1)


def n_ext(batch: dict[str, Tensor]) -> int:
    n = batch.get("n_ext")
    return int(n) if n is not None else 0


def _embedding(vocab: int, dim: int) -> nn.Embedding:
    embed = nn.Embedding(vocab, dim, padding_idx=PAD_ID)
    nn.init.normal_(embed.weight, std=dim**-0.5)  # unit-length rows (see the sentiment model)
    with torch.no_grad():
        embed.weight[PAD_ID].zero_()
    return embed
