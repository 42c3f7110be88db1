"""Vocabulary tokenizers: ``word`` (words and punctuation) and ``char`` (characters)."""

from __future__ import annotations

import re

from seqkit import Tokenizer

# Words (letters, digits, apostrophes inside words) or single punctuation marks.
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]", re.UNICODE)


class WordTokenizer(Tokenizer):
    """Splits text into words and punctuation marks, optionally lowercased."""

    def __init__(self, *, lowercase: bool = True, min_freq: int = 1, max_size: int | None = None) -> None:
        super().__init__(min_freq=min_freq, max_size=max_size)
        self.lowercase = lowercase

    def split(self, text: str) -> list[str]:
        return _WORD.findall(text.lower() if self.lowercase else text)


class CharTokenizer(Tokenizer):
    """One token per character, whitespace dropped: for Chinese, Japanese and other unsegmented text."""

    def __init__(self, *, lowercase: bool = False, min_freq: int = 1, max_size: int | None = None) -> None:
        super().__init__(min_freq=min_freq, max_size=max_size)
        self.lowercase = lowercase

    def split(self, text: str) -> list[str]:
        return [c for c in (text.lower() if self.lowercase else text) if not c.isspace()]

    def join(self, pieces: list[str]) -> str:
        return "".join(pieces)
