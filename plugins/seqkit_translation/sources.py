"""Translation data sources: ``tatoeba`` (one TSV of sentence pairs) and ``multi30k`` (line-aligned gzip files)."""

from __future__ import annotations

from pathlib import Path

from seqkit.data import Located, Record, data_error, read_lines, resolve_path
from seqkit.download import cache_dir, extracted, fetch

TATOEBA_URL = "https://www.manythings.org/anki/deu-eng.zip"
MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw"
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
LANGUAGES = ("en", "de")


def _direction(direction: str) -> tuple[str, str]:
    parts = direction.split("-")
    if len(parts) != 2 or set(parts) != set(LANGUAGES):
        raise ValueError(f"direction must be en-de or de-en, got {direction!r}")
    return parts[0], parts[1]


def tatoeba(
    path: str = "tatoeba_deu_eng/deu-eng.tsv",
    *,
    direction: str = "en-de",
    download: bool = False,
    url: str = TATOEBA_URL,
    sha256: str | None = None,
) -> list[Record]:
    """English–German Tatoeba pairs (ManyThings export: ``english<TAB>german[<TAB>attribution]`` a line).

    No official split (``data.split`` cuts one, seeded). ``direction``: ``en-de`` or ``de-en``. Where the
    file is absent and ``download: true``, the canonical zip is fetched into the cache (it changes over
    time, so it is verified only when ``sha256`` is given) and its ``deu.txt`` read.
    """
    src, _ = _direction(direction)
    file = resolve_path(path)
    if not file.is_file() and download:
        file = _tatoeba_extracted(fetch(url, sha256, "deu-eng.zip"))
    records = []
    for line, text in read_lines(file):
        cells = text.split("\t")
        if len(cells) < 2 or not cells[0].strip() or not cells[1].strip():
            raise data_error(file, "expected english<TAB>german", line)
        english, german = cells[0].strip(), cells[1].strip()
        source, target = (english, german) if src == "en" else (german, english)
        records.append(Located(f"{file}:{line}", source=source, target=target))
    return records


def _tatoeba_extracted(archive: Path) -> Path:
    return extracted(archive, cache_dir() / "deu-eng", ["deu.txt"]) / "deu.txt"


def multi30k(
    path: str = "multi30k",
    *,
    direction: str = "en-de",
    download: bool = False,
    url: str = MULTI30K_URL,
) -> dict[str, list[Record]]:
    """Multi30k task 1 captions with the official splits: ``train``, ``val`` (valid), ``test_2016_flickr`` (test).

    ``path`` holds ``<split>.<lang>.gz``, aligned by line; a pair of files of different lengths is an error
    naming both. Missing files are fetched from the dataset's repository when ``download: true``.
    """
    src, tgt = _direction(direction)
    folder = resolve_path(path)
    splits = {}
    for split, stem in MULTI30K_SPLITS.items():
        files = []
        for lang in (src, tgt):
            file = folder / f"{stem}.{lang}.gz"
            if not file.is_file() and download:
                file = fetch(f"{url}/{stem}.{lang}.gz", None, f"multi30k/{stem}.{lang}.gz")
            files.append(file)
        sources, targets = list(read_lines(files[0])), list(read_lines(files[1]))
        if len(sources) != len(targets):
            shorter = files[0] if len(sources) < len(targets) else files[1]
            raise data_error(
                shorter,
                f"{len(sources)} lines in {files[0].name} but {len(targets)} in {files[1].name}: not aligned",
                min(len(sources), len(targets)) + 1,
            )
        splits[split] = [
            Located(f"{files[0]}:{line}", source=s.strip(), target=t.strip())
            for (line, s), (_, t) in zip(sources, targets)
        ]
    return splits
