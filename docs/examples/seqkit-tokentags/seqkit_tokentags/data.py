"""``tagged_tsv``: a CoNLL-style file, one ``token<TAB>tag`` a line, a blank line after each sentence."""

from __future__ import annotations

from pathlib import Path

from seqkit import Located, Record, data_error, require_file, resolve_path

TINY = Path(__file__).parent / "data" / "tiny_ner.tsv"


def tagged_tsv(path: str | None = None, *, token_column: int = 0, tag_column: int = -1) -> list[Record]:
    """Sentences of *path* (default: the package's own tiny named-entity corpus) as ``{"tokens", "tags"}``.

    Columns are tab-separated; ``token_column`` and ``tag_column`` pick the two used (the last is the tag,
    as in CoNLL-2003). Lines starting with ``#`` are comments. Relative paths resolve against ``$SEQKIT_DATA``.
    """
    file = require_file(resolve_path(path) if path else TINY, "tagged text file")
    records: list[Record] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    with open(file, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            line = line.rstrip("\r\n")
            if line.startswith("#"):
                continue
            if not line.strip():
                if tokens:
                    records.append(Located(f"{file}:{start}", tokens=tokens, tags=tags))
                tokens, tags = [], []
                continue
            columns = line.split("\t")
            try:
                token, tag = columns[token_column], columns[tag_column]
            except IndexError:
                raise data_error(file, f"expected token<TAB>tag columns, got {line!r}", number) from None
            if not token or not tag or len(columns) < 2:
                raise data_error(file, f"expected token<TAB>tag columns, got {line!r}", number)
            if not tokens:
                start = number
            tokens.append(token)
            tags.append(tag)
    if tokens:
        records.append(Located(f"{file}:{start}", tokens=tokens, tags=tags))
    if not records:
        raise data_error(file, "no sentences")
    return records
