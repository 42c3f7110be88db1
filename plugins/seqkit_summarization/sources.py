"""``scitldr``: SciTLDR-A (Cachola et al., 2020), paper abstract → one-sentence TLDR, official splits."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Literal

from seqkit import Corpus, CorpusFile, Located, Record, data_error, fetch, read_lines, resolve_path

URL = "https://raw.githubusercontent.com/allenai/scitldr/master/SciTLDR-Data/SciTLDR-A"
SPLITS = {"train": "train", "valid": "dev", "test": "test"}


def scitldr(
    path: str = "scitldr", *, target: Literal["tldr", "title"] = "tldr", download: bool = False, url: str = URL
) -> dict[str, list[Record]]:
    """``{"source", "target", "references"}`` records from ``{train,dev,test}.jsonl.gz``.

    The source is the abstract's sentences joined with spaces; ``target: tldr`` trains on the first TLDR
    and scores against all of them, ``target: title`` generates the paper's title. Missing files are
    fetched (uncompressed JSONL) from the dataset's repository when ``download: true``.
    """
    if target not in ("tldr", "title"):
        raise ValueError(f"target must be tldr or title, got {target!r}")
    folder = resolve_path(path)
    splits = {}
    for split, stem in SPLITS.items():
        file = folder / f"{stem}.jsonl.gz"
        if not file.exists() and download:  # something there that is no file is refused when read, not replaced
            file = fetch(f"{url}/{stem}.jsonl", None, f"scitldr/{stem}.jsonl")
        records = []
        for line, text in read_lines(file):
            try:
                row = json.loads(text)
                source = " ".join(s.strip() for s in row["source"])
                refs = [t.strip() for t in row["target"] if t.strip()] if target == "tldr" else [row["title"].strip()]
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RecursionError) as error:
                raise data_error(file, f"not a SciTLDR record ({type(error).__name__}: {error})", line) from None
            if not source or not refs:
                raise data_error(file, f"empty abstract or {target}", line)
            records.append(Located(f"{file}:{line}", source=source, target=refs[0], references=refs))
        splits[split] = records
    return splits


def _fetch_into(folder: Path) -> None:
    """The repository's uncompressed JSONL files, gzip-compressed as the source reads them."""
    for stem in SPLITS.values():
        downloaded = fetch(f"{URL}/{stem}.jsonl", None, f"scitldr/{stem}.jsonl")
        with open(downloaded, "rb") as plain, gzip.GzipFile(folder / f"{stem}.jsonl.gz", "wb", mtime=0) as packed:
            shutil.copyfileobj(plain, packed)


CORPUS = Corpus(
    "scitldr",
    folder="scitldr",
    files=(
        CorpusFile("train.jsonl.gz", 856_807, "46cbf37458e887b84649a479d59deddd74b99b2c5d07f14e67544d00f27372b1"),
        CorpusFile("dev.jsonl.gz", 307_771, "a71c4c8467918e05fcff01638ebc5a9b025a6951afa902b15d72c94690d94c41"),
        CorpusFile("test.jsonl.gz", 327_130, "2d41445d2d61b4801e0a2e6376f019d2cefa2e2dfd69b34b398446b05e14338d"),
    ),
    licence="Apache-2.0, (c) Allen Institute for AI",
    url="https://github.com/allenai/scitldr",
    description="SciTLDR-A: 1,992 / 619 / 618 abstracts with one or more TLDRs",
    fetch=_fetch_into,
    converted=True,
)
