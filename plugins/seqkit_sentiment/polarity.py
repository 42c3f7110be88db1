"""``sentence_polarity``: the MR corpus (Pang & Lee, 2005), from a local copy or its canonical archive."""

from __future__ import annotations

from pathlib import Path

from seqkit import (
    Corpus,
    CorpusFile,
    Located,
    Record,
    cache_dir,
    extracted,
    fetch,
    not_found,
    read_lines,
    resolve_path,
)

URL = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
# SHA-256 of the 487,770-byte v1.0 archive (as recorded for the identical mirror by Hugging Face datasets).
SHA256 = "a05befe52aafda71d458d188a1c54506a998b1308613ba76bbda2e5029409ce9"
SIZE = 487_770
FILES = {"positive": "rt-polarity.pos", "negative": "rt-polarity.neg"}


def sentence_polarity(
    path: str = "sentence_polarity", *, download: bool = False, url: str = URL, sha256: str = SHA256
) -> list[Record]:
    """10,662 ``{"text", "label"}`` snippets labelled ``positive``/``negative``; no official split.

    ``path`` is the folder with ``rt-polarity.pos`` and ``rt-polarity.neg`` (UTF-8, one snippet a line),
    relative to ``$SEQKIT_DATA`` when that is set. Where they are absent and ``download: true``, the
    canonical archive is fetched once into the cache (verified against ``sha256``) and read instead
    (it is Latin-1, as published).
    """
    folder = resolve_path(path)
    # present: read, and refused there if no regular file (a named pipe) rather than fetched in its stead
    if all((folder / name).exists() for name in FILES.values()):
        return _read(folder, "utf-8")
    if not download:
        missing = next(folder / n for n in FILES.values() if not (folder / n).exists())
        error = not_found(missing, "sentence polarity file")
        # the corpus is two files in one folder: say so, and how to fetch it
        raise type(error)(
            f"{error}; point data.path at the folder holding {' and '.join(FILES.values())}, "
            "or set data.download=true to fetch the corpus"
        )
    known = SIZE if sha256 == SHA256 else None  # the canonical archive's size caps its download
    return _read(_extracted(fetch(url, sha256, "rt-polaritydata.tar.gz", size=known)), "latin-1")


def _read(folder: Path, encoding: str) -> list[Record]:
    return [
        Located(f"{folder / name}:{line}", text=text.strip(), label=label)
        for label, name in FILES.items()
        for line, text in read_lines(folder / name, encoding=encoding)
    ]


def _extracted(archive: Path) -> Path:
    """The archive's two text files in the cache, from this very archive (see :func:`seqkit.download.extracted`)."""
    return extracted(archive, cache_dir() / "rt-polaritydata", FILES.values())


def _fetch_into(folder: Path) -> None:
    """The canonical archive (verified by its SHA-256), re-encoded from Latin-1 to UTF-8 as the reference copy is."""
    unpacked = _extracted(fetch(URL, SHA256, "rt-polaritydata.tar.gz", size=SIZE))
    for name in FILES.values():
        (folder / name).write_bytes((unpacked / name).read_bytes().decode("latin-1").encode("utf-8"))


CORPUS = Corpus(
    "sentence_polarity",
    folder="sentence_polarity",
    files=(
        CorpusFile("rt-polarity.pos", 626_334, "c2dc6b2f55bcf725725372916287cc3f8f9b19402edaa9167de5287cb3ade421"),
        CorpusFile("rt-polarity.neg", 612_441, "614274f81185a850e5a88d533d4679f916d6f62e9af6f0b4ec71fb94bf466ea5"),
    ),
    licence="CC BY 4.0, (c) Bo Pang and Lillian Lee",
    url=URL,
    description="Sentence Polarity v1.0 (MR): 5,331 positive and 5,331 negative snippets, UTF-8",
    fetch=_fetch_into,
    converted=True,
)
