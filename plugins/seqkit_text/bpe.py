"""``bpe``: byte-pair encoding from Hugging Face ``tokenizers``, trained offline on the training split."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from seqkit import SPECIALS, UNK, Tokenizer


class BPETokenizer(Tokenizer):
    """Subword units learned from the training text; nothing is downloaded."""

    def __init__(self, *, vocab_size: int = 8000, min_freq: int = 2, lowercase: bool = True) -> None:
        super().__init__(min_freq=min_freq)
        if vocab_size <= len(SPECIALS):
            raise ValueError(f"vocab_size must exceed the {len(SPECIALS)} special tokens, got {vocab_size}")
        self.target_size = vocab_size
        self.lowercase = lowercase
        self._model: Any = None

    @staticmethod
    def _library() -> Any:
        try:
            import tokenizers
        except ImportError as error:  # pragma: no cover - a dependency of seqkit
            raise ImportError("the bpe tokenizer needs the 'tokenizers' package: pip install tokenizers") from error
        return tokenizers

    def _empty(self) -> Any:
        lib = self._library()
        model = lib.Tokenizer(lib.models.BPE(unk_token=UNK))
        steps = [lib.normalizers.NFKC()] + ([lib.normalizers.Lowercase()] if self.lowercase else [])
        model.normalizer = lib.normalizers.Sequence(steps)
        # Metaspace keeps word boundaries in the pieces, so decode restores the spaces.
        model.pre_tokenizer = lib.pre_tokenizers.Metaspace()
        model.decoder = lib.decoders.Metaspace()
        return model

    def fit(self, texts: Iterable[str]) -> BPETokenizer:
        lib = self._library()
        model = self._empty()
        trainer = lib.trainers.BpeTrainer(
            vocab_size=self.target_size, min_frequency=self.min_freq, special_tokens=list(SPECIALS), show_progress=False
        )
        model.train_from_iterator(list(texts), trainer=trainer)
        self._set(model)
        return self

    def _set(self, model: Any) -> None:
        # The special tokens are seqkit's own ids, never spelled by the text: a literal "<eos>" or "<pad>" in a
        # sentence is encoded as characters, so input cannot end a sequence or vanish as padding.
        model.encode_special_tokens = True
        self._model = model
        vocab = model.get_vocab()
        self.itos = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
        self.stoi = dict(vocab)

    def split(self, text: str) -> list[str]:
        return self._model.encode(text).tokens

    def join(self, pieces: list[str]) -> str:
        return self._model.decoder.decode(pieces)

    def encode(self, text: str) -> list[int]:
        return list(self._model.encode(text).ids)

    def decode(self, ids: Iterable[int]) -> str:
        return self._model.decode([i for i in ids if i >= len(SPECIALS)])

    def state_dict(self) -> dict[str, Any]:
        return {"itos": list(self.itos), "model": self._model.to_str()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._set(self._library().Tokenizer.from_str(state["model"]))
