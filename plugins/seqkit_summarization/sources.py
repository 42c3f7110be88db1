"""``scitldr``: SciTLDR-A (Cachola et al., 2020), paper abstract → one-sentence TLDR, official splits."""

from __future__ import annotations

import json
from typing import Literal

from seqkit.data import Located, Record, data_error, read_lines, resolve_path
from seqkit.download import fetch

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
        if not file.is_file() and download:
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
