"""A data path naming no regular file (a named pipe, a device, a socket) is refused before it is opened: opening a
FIFO for reading waits for a writer forever, a device may never end. Every built-in data source and ``seqkit data``
answer with one line naming the path, at once."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from seqkit_sentiment.polarity import sentence_polarity
from seqkit_summarization.sources import scitldr
from seqkit_tagging.conll import conll
from seqkit_text.sources import lines_per_label, table
from seqkit_translation.sources import multi30k, tatoeba

from seqkit.data import DataError, require_file
from tests.helpers import FIFO_RESCUE_S
from tests.recipe_helpers import quickstart, write_recipe

SEQKIT = shutil.which("seqkit")
# The CLI starts torch and Lightning before it reads data: seconds on a loaded 2-core machine, never minutes.
CLI_TIMEOUT_S = 240


def _seqkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [SEQKIT] if SEQKIT else [sys.executable, "-m", "seqkit"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env={**os.environ, **(env or {})}
    )


def test_a_recipe_s_data_file_that_is_a_fifo_is_a_one_line_error_at_once(tmp_path, fifo):
    data = fifo(tmp_path / "data.tsv")
    recipe = quickstart()
    recipe["data"] = {"kind": "table", "path": str(data), "labels": ["neg", "pos"], "batch_size": 4}
    path = write_recipe(tmp_path / "r.yaml", recipe)
    began = time.monotonic()
    result = _seqkit("train", str(path), f"run_dir={tmp_path / 'run'}")
    assert time.monotonic() - began < FIFO_RESCUE_S, "the FIFO was opened: only the rescue ended the wait"
    assert result.returncode == 2, result.stderr
    assert f"{data}: expected a data file, found a named pipe (FIFO)" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_data_verify_refuses_a_corpus_file_that_is_a_fifo(tmp_path, fifo):
    pipe = fifo(tmp_path / "data" / "sentence_polarity" / "rt-polarity.pos")
    began = time.monotonic()
    result = _seqkit("data", "verify", "sentence_polarity", env={"SEQKIT_DATA": str(tmp_path / "data")})
    assert time.monotonic() - began < FIFO_RESCUE_S
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(f"{pipe}: expected a corpus file, found a named pipe (FIFO)")
    assert result.stderr.count("\n") == 1


def _polarity(root: Path, download: bool) -> None:
    (root / "rt-polarity.neg").write_text("bad\n")
    sentence_polarity(str(root), download=download)


def _conll_folder(root: Path) -> None:
    for name in ("esp.testa", "esp.testb"):
        (root / name).write_text("El DA B-ORG\n")
    conll(str(root), download=True)


def _multi30k(root: Path) -> None:
    (root / "train.de.gz").write_bytes(gzip.compress(b"Ein Hund.\n"))  # the other side of the pair, present
    multi30k(str(root), download=True)


# each: the file to make a FIFO (in the data folder), and a call of the source that reads it from that folder
SOURCES: dict[str, tuple[str, Callable[[Path], object]]] = {
    "table": ("d.tsv", lambda root: table(str(root / "d.tsv"))),
    "table.gz": ("d.tsv.gz", lambda root: table(str(root / "d.tsv.gz"))),
    "lines_per_label": ("p.txt", lambda root: lines_per_label({"pos": str(root / "p.txt")})),
    "conll file": ("es.conll", lambda root: conll(str(root / "es.conll"))),
    "conll splits": ("es.conll", lambda root: conll({"train": str(root / "es.conll")})),
    "conll folder": ("esp.train", _conll_folder),
    "sentence_polarity": ("rt-polarity.pos", lambda root: _polarity(root, download=False)),
    "sentence_polarity download": ("rt-polarity.pos", lambda root: _polarity(root, download=True)),
    "scitldr": ("dev.jsonl.gz", lambda root: scitldr(str(root), download=True)),
    "tatoeba": ("deu-eng.tsv", lambda root: tatoeba(str(root / "deu-eng.tsv"), download=True)),
    "multi30k": ("train.en.gz", lambda root: _multi30k(root)),
}


def _no_download(*args: object, **keywords: object) -> None:
    raise AssertionError("a FIFO at the data path must be refused, not replaced by a download")


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_built_in_data_source_refuses_a_fifo_before_opening_it(tmp_path, monkeypatch, fifo, source):
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("seqkit.data.download.open_until", _no_download)
    name, read = SOURCES[source]
    pipe = fifo(tmp_path / "data" / name)
    if source == "scitldr":  # the splits before it, present
        with gzip.open(tmp_path / "data" / "train.jsonl.gz", "wt") as train:
            train.write('{"source": ["An abstract."], "target": ["A TLDR."], "title": "T"}\n')
    began = time.monotonic()
    with pytest.raises(DataError) as raised:
        read(tmp_path / "data")
    assert time.monotonic() - began < FIFO_RESCUE_S, "the FIFO was opened: only the rescue ended the wait"
    assert str(raised.value).startswith(f"{pipe}: expected a ") and "found a named pipe (FIFO)" in str(raised.value)


def test_devices_and_sockets_are_named_for_what_they_are(tmp_path):
    with pytest.raises(DataError, match=r"^/dev/null: expected a data file, found a character device"):
        require_file(Path("/dev/null"))
    where = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(where))
        with pytest.raises(DataError, match=r"s\.sock: expected a word list, found a socket"):
            require_file(where, "word list")


def test_a_link_to_a_regular_file_is_read_and_a_link_to_a_fifo_is_refused(tmp_path, fifo):
    (tmp_path / "real.txt").write_text("good film\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    assert lines_per_label({"pos": str(tmp_path / "link.txt")})[0]["text"] == "good film"
    (tmp_path / "pipe-link.txt").symlink_to(fifo(tmp_path / "pipe"))
    with pytest.raises(DataError, match=r"pipe-link\.txt: expected a data file, found a named pipe \(FIFO\)"):
        lines_per_label({"pos": str(tmp_path / "pipe-link.txt")})


def test_a_download_from_a_file_url_naming_a_fifo_is_refused_not_waited_on(tmp_path, monkeypatch, fifo):
    # a user's own recipe may set data.url to a file:// URL: the download deadline cannot end a wait in open()
    from seqkit.data.download import fetch

    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    pipe = fifo(tmp_path / "pipe.tsv")
    began = time.monotonic()
    with pytest.raises(DataError, match=r"pipe\.tsv: expected a file to download, found a named pipe \(FIFO\)"):
        fetch(pipe.as_uri(), None, "x.tsv", deadline=5)
    assert time.monotonic() - began < FIFO_RESCUE_S
    (tmp_path / "real.tsv").write_text("a\tb\n")  # a regular file is still fetched from a file:// URL
    assert fetch((tmp_path / "real.tsv").as_uri(), None, "real.tsv").read_text() == "a\tb\n"


@pytest.mark.parametrize(
    "command,name,expected",
    [
        (("validate",), "recipe.yaml", "expected a recipe file (YAML), found a named pipe (FIFO)"),
        (("train",), "recipe.yaml", "expected a recipe file (YAML), found a named pipe (FIFO)"),
        (("eval",), "best.ckpt", "expected a checkpoint file or a run directory, found a named pipe (FIFO)"),
        (("predict",), "best.ckpt", "expected a checkpoint file or a run directory, found a named pipe (FIFO)"),
    ],
)
def test_a_recipe_or_checkpoint_that_is_a_fifo_is_named_as_one_not_as_missing(tmp_path, fifo, command, name, expected):
    pipe = fifo(tmp_path / name)
    extra = ("hello",) if command == ("predict",) else ()
    done = _seqkit(*command, str(pipe), *extra)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and str(pipe) in done.stderr and expected in done.stderr, done.stderr
