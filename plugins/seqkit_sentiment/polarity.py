"""``sentence_polarity``: the MR corpus (Pang & Lee, 2005), from a local copy or its canonical archive."""

from __future__ import annotations

from pathlib import Path

from seqkit.data import Located, Record, data_error, read_lines, resolve_path
from seqkit.download import cache_dir, extracted, fetch

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
    if all((folder / name).is_file() for name in FILES.values()):
        return _read(folder, "utf-8")
    if not download:
        missing = next(folder / n for n in FILES.values() if not (folder / n).is_file())
        raise data_error(
            missing,
            "sentence polarity file not found; point data.path at the folder holding "
            "rt-polarity.pos and rt-polarity.neg, or set data.download=true to fetch the corpus",
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
