"""``conll``: CoNLL-style column files (one token a line, blank lines between sentences), plain or gzip."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from seqkit import (
    Corpus,
    CorpusFile,
    Located,
    Record,
    data_error,
    fetch,
    not_found,
    open_data,
    require_file,
    resolve_path,
)

URL = "https://www.clips.uantwerpen.be/conll2002/ner/data"
SPLITS = {"train": "train", "valid": "testa", "test": "testb"}  # CoNLL-2002's names of the official splits
# SHA-256 and sizes of the reference copies of CoNLL-2002 Spanish that seqkit's tests and published figures use.
REFERENCE = {
    "esp.train.gz": (702_649, "393b56c19974aac1e1dda7b3cba74e59178eaa19e1d0e281ed9444b7c96cf434"),
    "esp.testa.gz": (139_218, "28061a7d1f4d1f21b837ed06400f330bcb6cd0a4e652705c7f78e575798e6fb9"),
    "esp.testb.gz": (136_009, "a1a2092e3f9d7e6adb6288b5d64d0b92ea3c8182b5cb31069e286b469327eb06"),
}
DOCSTART = "-DOCSTART-"
MAX_LINE_BYTES = 1 << 20  # as seqkit's own readers


def conll(
    path: str | dict[str, str] = "conll2002",
    *,
    language: str = "esp",
    token_column: int = 0,
    tag_column: int = -1,
    encoding: str = "auto",
    download: bool = False,
    url: str = URL,
) -> list[Record] | dict[str, list[Record]]:
    """Sentences as ``{"tokens": [...], "tags": [...]}`` records.

    ``path``: a folder holding ``<language>.train``, ``<language>.testa`` and ``<language>.testb`` (each
    plain or ``.gz``; CoNLL-2002's official train, validation and test splits), one file (split by
    ``data.split``), or ``{train: file, valid: file, test: file}``. Columns are separated by spaces or
    tabs; ``token_column`` and ``tag_column`` pick the two used (negative counts from the end). ``encoding``:
    ``auto`` reads a file as UTF-8 when it is, else as Latin-1.
    ``-DOCSTART-`` lines end a sentence and are dropped. A folder's missing files are fetched from
    CoNLL-2002's site when ``download: true`` (the Spanish ones verified against their SHA-256).
    """
    if isinstance(path, dict):
        return {split: read_conll(_file(p), token_column, tag_column, encoding) for split, p in path.items()}
    target = resolve_path(path)
    if target.exists() and not target.is_dir():  # a file (a named pipe or a device here is refused when read)
        return read_conll(target, token_column, tag_column, encoding)
    splits = {}
    for split, name in SPLITS.items():
        stem = f"{language}.{name}"
        found = next((target / n for n in (stem, stem + ".gz") if (target / n).exists()), None)
        if found is None and download:
            known = REFERENCE.get(stem + ".gz")
            found = fetch(
                f"{url}/{stem}.gz", known[1] if known else None, f"conll2002/{stem}.gz", size=known and known[0]
            )
        if found is None:
            error = not_found(target / f"{stem}.gz", "CoNLL file")
            raise type(error)(
                f"{error}; point data.path at a file or a folder of {stem}[.gz], or set data.download=true"
            )
        splits[split] = read_conll(found, token_column, tag_column, encoding)
    return splits


def _file(path: str) -> Path:
    return require_file(resolve_path(path), "CoNLL file")


def _encoding_of(file: Path, encoding: str) -> str:
    """*encoding*, checked; for ``auto``, UTF-8 when the whole file decodes as UTF-8, else Latin-1 (what
    CoNLL-2002's and CoNLL-2003's own files are in), which decodes any bytes."""
    if encoding != "auto":
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise data_error(file, f"data.encoding: unknown encoding {encoding!r} (e.g. auto, latin-1)") from None
        return encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open(file) as stream:
            while chunk := stream.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1"
    except (OSError, EOFError) as error:
        raise data_error(file, f"cannot be read: {error}") from None
    return "utf-8"


def _open(file: Path) -> BinaryIO:
    return open_data(file, "CoNLL file")


def _lines(file: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """``(number, text)`` of every line, blank ones included; bad bytes name the line."""
    encoding = _encoding_of(file, encoding)
    try:
        with _open(file) as stream:
            number = 0
            # read a bounded line at a time: a file without line breaks cannot fill the memory
            while raw := stream.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(raw) > MAX_LINE_BYTES:
                    raise data_error(file, f"a line longer than {MAX_LINE_BYTES} bytes", number)
                try:
                    yield number, raw.decode(encoding).rstrip("\r\n")
                except UnicodeDecodeError as error:
                    raise data_error(file, f"not {encoding} text ({error.reason}); set data.encoding", number) from None
    except (OSError, EOFError) as error:  # a truncated or corrupt gzip file
        raise data_error(file, f"cannot be read: {error}") from None


def read_conll(file: Path, token_column: int = 0, tag_column: int = -1, encoding: str = "auto") -> list[Record]:
    """The sentences of one CoNLL-style file; malformed lines are errors naming the file and line."""
    records: list[Record] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for number, line in _lines(file, encoding):
        columns = line.split()
        if not columns or columns[0] == DOCSTART:
            if tokens:
                records.append(Located(f"{file}:{start}", tokens=tokens, tags=tags))
            tokens, tags = [], []
            continue
        wanted = (
            max(
                token_column if token_column >= 0 else -token_column - 1,
                tag_column if tag_column >= 0 else -tag_column - 1,
            )
            + 1
        )
        if len(columns) < max(wanted, 2):
            raise data_error(
                file,
                f"expected at least {max(wanted, 2)} columns (token_column {token_column}, tag_column {tag_column}), "
                f"got {len(columns)}: {line[:80]!r}",
                number,
            )
        if not tokens:
            start = number
        tokens.append(columns[token_column])
        tags.append(columns[tag_column])
    if tokens:
        records.append(Located(f"{file}:{start}", tokens=tokens, tags=tags))
    if not records:
        raise data_error(file, "no sentences (expected one token and its tag a line, blank lines between sentences)")
    return records


def _fetch_into(folder: Path) -> None:
    """`seqkit data fetch conll2002`: the three Spanish files from CoNLL-2002's site, each checked by its SHA-256."""
    for name, (size, sha256) in REFERENCE.items():
        (folder / name).write_bytes(fetch(f"{URL}/{name}", sha256, f"conll2002/{name}", size=size).read_bytes())


CORPUS = Corpus(
    "conll2002",
    folder="conll2002",
    files=tuple(CorpusFile(name, size, sha) for name, (size, sha) in REFERENCE.items()),
    licence="CoNLL-2002 shared task: research use only (see its README.txt)",
    url="https://www.clips.uantwerpen.be/conll2002/ner/",
    description="CoNLL-2002 Spanish named entities (PER, LOC, ORG, MISC; IOB2): train / testa / testb",
    fetch=_fetch_into,
)
