"""The tokenizer contract: text → token ids and back, fit on the training split, saved with the checkpoint."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)


class Tokenizer:
    """Base class of tokenizer plugins.

    Ids 0–3 are always ``<pad>``, ``<unk>``, ``<bos>`` and ``<eos>``: tasks pad with :data:`PAD_ID` and
    decoders start from :data:`BOS_ID`. Subclasses define :meth:`split` (text → pieces) and :meth:`join`
    (pieces → text); vocabulary-based ones inherit :meth:`fit` and the id mapping, others (BPE)
    override :meth:`fit`, :meth:`encode`, :meth:`decode` and the state methods.
    """

    def __init__(self, *, min_freq: int = 1, max_size: int | None = None) -> None:
        if min_freq < 1:
            raise ValueError(f"min_freq must be at least 1, got {min_freq}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be positive, got {max_size}")
        self.min_freq = min_freq
        self.max_size = max_size
        self.itos: list[str] = list(SPECIALS)
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}

    # -- what a subclass defines -------------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def join(self, pieces: list[str]) -> str:
        return " ".join(pieces)

    # -- vocabulary ---------------------------------------------------------------------------------
    def fit(self, texts: Iterable[str]) -> Tokenizer:
        """Build the vocabulary from *texts* (the training split): by frequency, ties alphabetical."""
        counts = Counter(piece for text in texts for piece in self.split(text))
        kept = sorted(
            (p for p, n in counts.items() if n >= self.min_freq and p not in self.stoi), key=lambda p: (-counts[p], p)
        )
        if self.max_size is not None:
            kept = kept[: max(0, self.max_size - len(SPECIALS))]
        self.itos = list(SPECIALS) + kept
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Token ids of *text*; pieces outside the vocabulary become :data:`UNK_ID`."""
        return [self.stoi.get(piece, UNK_ID) for piece in self.split(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of *ids*, skipping padding and the sentence markers."""
        return self.join(
            [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in ids if i >= UNK_ID and i not in (BOS_ID, EOS_ID)]
        )

    # -- checkpointing: plain data only, so checkpoints load with torch.load(weights_only=True) -----
    def state_dict(self) -> dict[str, Any]:
        return {"itos": list(self.itos)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        itos = list(state["itos"])
        if tuple(itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError("tokenizer state does not start with the special tokens <pad> <unk> <bos> <eos>")
        self.itos = itos
        self.stoi = {s: i for i, s in enumerate(itos)}
