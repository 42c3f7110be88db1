"""Translation data sources: ``tatoeba`` (one TSV of sentence pairs) and ``multi30k`` (line-aligned gzip files)."""

from __future__ import annotations

import shutil
from pathlib import Path

from seqkit import (
    Corpus,
    CorpusFile,
    Located,
    Record,
    cache_dir,
    data_error,
    extracted,
    fetch,
    read_lines,
    resolve_path,
)

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
    if not file.exists() and download:  # something there that is no file is refused when read, not replaced
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
            if not file.exists() and download:
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


def _tatoeba_into(folder: Path) -> None:
    """The current ManyThings export, as ``english<TAB>german`` lines (its attribution column left out)."""
    export = _tatoeba_extracted(fetch(TATOEBA_URL, None, "deu-eng.zip"))
    with open(export, encoding="utf-8") as lines, open(folder / "deu-eng.tsv", "w", encoding="utf-8") as out:
        for line in lines:
            cells = line.rstrip("\r\n").split("\t")
            if len(cells) >= 2:
                out.write(f"{cells[0]}\t{cells[1]}\n")


def _multi30k_into(folder: Path) -> None:
    for entry in MULTI30K.files:
        shutil.copyfile(
            fetch(f"{MULTI30K_URL}/{entry.path}", entry.sha256, f"multi30k/{entry.path}"), folder / entry.path
        )


TATOEBA = Corpus(
    "tatoeba_deu_eng",
    folder="tatoeba_deu_eng",
    files=(CorpusFile("deu-eng.tsv", 2_138_358, "fd7636e4f85ae5414c7f0c2dcb5992a1fcb110404fd7e2526b746553273d0510"),),
    licence="CC BY 2.0 FR, (c) the Tatoeba contributors",
    url=TATOEBA_URL,
    description="English-German pairs; the reference copy holds the 50,001 shortest, a fetch the whole current export",
    fetch=_tatoeba_into,
    converted=True,
)
MULTI30K = Corpus(
    "multi30k",
    folder="multi30k",
    files=(
        CorpusFile("train.en.gz", 568_929, "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"),
        CorpusFile("train.de.gz", 637_044, "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"),
        CorpusFile("val.en.gz", 21_650, "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"),
        CorpusFile("val.de.gz", 24_681, "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"),
        CorpusFile(
            "test_2016_flickr.en.gz", 21_077, "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9"
        ),
        CorpusFile(
            "test_2016_flickr.de.gz", 22_890, "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8"
        ),
    ),
    licence="Flickr30K terms: non-commercial research and educational use only",
    url="https://github.com/multi30k/dataset",
    description="Multi30k task 1 English-German captions: 29,000 / 1,014 / 1,000",
    fetch=_multi30k_into,
)
