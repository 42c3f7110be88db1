"""Word representations: a word embedding, its casing, and its characters through a seqkit cell or a char-CNN."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import seqkit
from seqkit import last_step

# Casing classes (Lample et al. and Ma & Hovy use similar ones): what a lowercased vocabulary forgets.
CASINGS = ("pad", "lower", "title", "upper", "mixed", "numeric", "has_digit", "other")


def _embedding(count: int, dim: int) -> nn.Embedding:
    """An embedding started at N(0, 1/dim), its padding row zero: Adam moves each weight by about the learning
    rate per step, so torch's N(0, 1) start leaves rare words' vectors nearly where they began."""
    embedding = nn.Embedding(count, dim, padding_idx=0)
    with torch.no_grad():
        embedding.weight.normal_(0.0, dim**-0.5)
        embedding.weight[0].zero_()
    return embedding


def casing(word: str) -> int:
    """The casing class of *word*: an index into :data:`CASINGS` (never 0, the padding class)."""
    if word.isdigit():
        return CASINGS.index("numeric")
    if any(c.isdigit() for c in word):
        return CASINGS.index("has_digit")
    if not any(c.isalpha() for c in word):
        return CASINGS.index("other")
    if word.islower():
        return CASINGS.index("lower")
    if word.isupper():
        return CASINGS.index("upper")
    if word[0].isupper() and word[1:] == word[1:].lower():
        return CASINGS.index("title")
    return CASINGS.index("mixed")


_MAX_WIDTH = 1 << 16  # seqkit.Width's bound


class CharEncoder(nn.Module):
    """``forward(chars (N, L), lengths (N,)) -> (N, out_size)``: one vector per word from its characters.

    ``kind``: a registered cell (``gru`` by default, run bidirectionally: the forward direction's last state
    and the backward one's first, as Lample et al.) or ``cnn`` (a convolution of ``width`` characters,
    max-pooled over the word, as Ma & Hovy). ``options`` go to the cell (``num_layers``, ``backend``, ...).
    """

    def __init__(
        self,
        num_chars: int,
        *,
        kind: str = "gru",
        embed_dim: int = 25,
        hidden_size: int = 25,
        bidirectional: bool = True,
        width: int = 3,
        **options: Any,
    ) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("hidden_size", hidden_size), ("width", width)):
            # a mapping the recipe's type check cannot see into: its sizes are checked here, as a Width is
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_WIDTH:
                raise ValueError(f"model.chars.{name}: expected a whole number in [1, {_MAX_WIDTH:,}], got {value!r}")
        self.embed = _embedding(num_chars, embed_dim)
        self.kind = kind
        if kind == "cnn":
            if options:
                raise ValueError(f"model.chars: a cnn takes no {sorted(options)}")
            self.conv = nn.Conv1d(embed_dim, hidden_size, width, padding=width // 2)
            self.out_size = hidden_size
        else:
            self.rnn = seqkit.create_rnn(kind, embed_dim, hidden_size, bidirectional=bidirectional, **options)
            self.out_size = hidden_size * (2 if bidirectional else 1)
            self.hidden_size, self.bidirectional = hidden_size, bidirectional

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        x = self.embed(chars)  # (N, L, E)
        if self.kind == "cnn":
            h = self.conv(x.transpose(1, 2))  # (N, H, L)
            pad = torch.arange(chars.shape[1], device=chars.device)[None, :] >= lengths[:, None]
            return h.masked_fill(pad.unsqueeze(1), float("-inf")).amax(dim=2)
        out, _ = self.rnn(x, lengths)  # (N, L, D·H), zero past each word's end
        forward = last_step(out[..., : self.hidden_size], lengths, out.new_zeros(out.shape[0], self.hidden_size))
        if not self.bidirectional:
            return forward
        return torch.cat([forward, out[:, 0, self.hidden_size :]], dim=1)  # the backward pass ends at character 0


class WordFeatures(nn.Module):
    """``forward(words (B, T), chars (B, T, L), casings (B, T)) -> (B, T, out_size)``.

    The concatenation of a word embedding, a casing embedding (``casing_dim``; 0: none) and the character
    encoder's vector (``chars``: :class:`CharEncoder` options; None: none). During training each word marked
    in ``rare (V,)`` is replaced by the unknown word with probability ``unk_replace`` (singletons, Lample et
    al.), and any word with probability ``word_dropout``, so the unknown word's vector learns to stand in.
    """

    def __init__(
        self,
        vocab_size: int,
        num_chars: int,
        rare: Tensor,
        *,
        embed_dim: int = 100,
        casing_dim: int = 8,
        chars: dict[str, Any] | None = None,
        unk_replace: float = 0.5,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed = _embedding(vocab_size, embed_dim)  # seqkit.PAD_ID is 0
        self.casing = _embedding(len(CASINGS), casing_dim) if casing_dim else None
        self.chars = CharEncoder(num_chars, **chars) if chars is not None else None
        self.register_buffer("rare", rare.bool())
        self.unk_replace, self.word_dropout = unk_replace, word_dropout
        self.out_size = embed_dim + casing_dim + (self.chars.out_size if self.chars is not None else 0)

    def forward(self, words: Tensor, chars: Tensor, casings: Tensor, *, every_position: bool = False) -> Tensor:
        """*every_position*: run the character encoder over every position and zero the padding's vectors after it,
        instead of gathering the real words first (a data-dependent shape an exported graph cannot hold); the real
        words get the same vectors either way."""
        if self.training and (self.unk_replace > 0 or self.word_dropout > 0):
            draw = torch.rand(words.shape, device=words.device)
            drop = (self.rare[words] & (draw < self.unk_replace)) | (draw < self.word_dropout)
            words = words.masked_fill(drop & (words != seqkit.PAD_ID), seqkit.UNK_ID)
        parts = [self.embed(words)]
        if self.casing is not None:
            parts.append(self.casing(casings))
        if self.chars is not None and every_position:
            flat = chars.flatten(0, 1)  # (B·T, L)
            # a padding position has no characters: give it one (then zero its vector) so that no length is 0
            vectors = self.chars(flat, (flat > 0).sum(-1).clamp(min=1))
            real = (casings > 0).flatten().unsqueeze(1).to(vectors.dtype)
            parts.append((vectors * real).unflatten(0, words.shape))
        elif self.chars is not None:
            real = casings > 0  # (B, T): the sentence's words, not its padding
            word_lengths = (chars > 0).sum(-1)[real]  # (N,)
            vectors = self.chars(chars[real][:, : int(word_lengths.max())], word_lengths)  # (N, out)
            spread = vectors.new_zeros(*words.shape, vectors.shape[1])
            spread[real] = vectors
            parts.append(spread)
        return torch.cat(parts, dim=-1)
