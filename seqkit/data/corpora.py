"""Corpora that data sources declare (files, sizes, licences, SHA-256), where they are, and checking them.

A data source declares the real corpora it reads on its registered :class:`seqkit.Spec` (``corpora=(Corpus(...),)``);
``seqkit data ls|fetch|verify`` works from those declarations alone, so the core knows no corpus by name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from seqkit.data import DataError, require_file, resolve_path
from seqkit.data.download import sha256_of

# Written by `seqkit data fetch` beside a converted corpus: the SHA-256 of each file as it was written.
MANIFEST = ".seqkit-fetched.json"


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus: its path inside the corpus folder, size in bytes and SHA-256 (None: not fixed)."""

    path: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Corpus:
    """A real corpus a data source reads.

    ``folder`` is the source's default ``data.path``, relative to ``$SEQKIT_DATA``. ``files`` carry the size and
    SHA-256 of the reference copies (those seqkit's tests and published figures used). ``fetch(folder)``, when
    given, downloads the corpus through :func:`seqkit.data.download.fetch` and writes ``files`` into *folder*.
    ``converted``: what ``fetch`` writes is converted from the canonical download (re-encoded, re-compressed,
    a different export), so its bytes may differ from the reference copies; ``verify`` then checks a fetched
    copy against the checksums recorded when it was written.
    """

    name: str
    folder: str
    files: tuple[CorpusFile, ...]
    licence: str
    url: str = ""
    description: str = ""
    fetch: Callable[[Path], None] | None = None
    converted: bool = False

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(sizes)

    def location(self) -> Path:
        """Where the corpus is read from: ``$SEQKIT_DATA/<folder>`` (the working directory when unset)."""
        return resolve_path(self.folder)


@dataclass(frozen=True)
class Known:
    """A declared corpus with the data source (and plugin) that declared it."""

    corpus: Corpus
    source: str
    plugin: str


def known_corpora(datasets: Iterable[object]) -> list[Known]:
    """Every corpus the registered data sources (``manager.datasets``) declare, in registration order."""
    found = []
    for spec in datasets:
        plugin = spec.provenance.plugin if getattr(spec, "provenance", None) else "?"
        found += [Known(corpus, spec.name, plugin) for corpus in getattr(spec, "corpora", ())]
    return found


def expected_sums(corpus: Corpus, folder: Path) -> dict[str, str | None]:
    """The SHA-256 each file should have: the fetch manifest's where ``seqkit data fetch`` wrote a converted copy,
    else the declared ones."""
    declared = {f.path: f.sha256 for f in corpus.files}
    manifest = folder / MANIFEST
    if corpus.converted and manifest.is_file():
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DataError(f"{manifest}: unreadable ({error}); delete it and run `seqkit data fetch` again") from None
        return {path: recorded.get(path, sha) for path, sha in declared.items()}
    return declared


def check(corpus: Corpus, folder: Path) -> list[tuple[CorpusFile, str]]:
    """``(file, status)`` for every file: ``ok``, ``missing``, ``unchecked`` (no SHA-256) or ``mismatch: <sha>``."""
    sums = expected_sums(corpus, folder)
    statuses = []
    for entry in corpus.files:
        path = folder / entry.path
        status = "missing"
        if path.exists():
            require_file(path, "corpus file")  # there, but a named pipe, a device or a folder: an error, not missing
            if sums[entry.path] is None:
                status = "unchecked"
            else:
                actual = sha256_of(path)
                status = "ok" if actual == sums[entry.path] else f"mismatch: {actual}"
        statuses.append((entry, status))
    return statuses


def fetch_corpus(corpus: Corpus, folder: Path) -> list[str]:
    """Download *corpus* into *folder* with its own ``fetch``; returns the files written.

    The files are written into a staging folder beside *folder* first and moved into place only when every
    declared file is there (and, unless the corpus is ``converted``, has its declared SHA-256): an interrupted
    or corrupted download never leaves a partial corpus under its final name.
    """
    if corpus.fetch is None:
        raise DataError(
            f"corpus '{corpus.name}' cannot be downloaded by seqkit; get it from {corpus.url or 'its publisher'} "
            f"and put its files in {folder}"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.fetch-"))
    try:
        corpus.fetch(staging)
        written = {}
        for entry in corpus.files:
            path = staging / entry.path
            if not path.is_file():
                raise DataError(f"corpus '{corpus.name}': its download did not produce {entry.path}")
            actual = sha256_of(path)
            if not corpus.converted and entry.sha256 is not None and actual != entry.sha256:
                raise DataError(
                    f"{entry.path} of corpus '{corpus.name}': downloaded SHA-256 {actual}, expected {entry.sha256}; "
                    "nothing was written"
                )
            written[entry.path] = actual
        for path in written:
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / path, folder / path)
        if corpus.converted:
            text = json.dumps(written, indent=2, sort_keys=True) + "\n"
            (staging / MANIFEST).write_text(text, encoding="utf-8")
            os.replace(staging / MANIFEST, folder / MANIFEST)
        return list(written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
