"""``seqkit data ls|fetch|verify`` and the not-found errors that point at ``$SEQKIT_DATA`` and ``data.download``."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

import seqkit
from seqkit.download import fetch
from seqkit.plugins import PluginManager
from tests.recipe_helpers import cli, write_recipe

BUILT_IN = {"sentence_polarity", "tatoeba_deu_eng", "multi30k", "scitldr"}


@pytest.fixture
def server(tmp_path):
    """A 127.0.0.1 HTTP server of the files in ``tmp_path/served``; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty ``$SEQKIT_DATA`` and download cache."""
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "data"


def third_party(url: str, sha256: str) -> PluginManager:
    """The installed plugins plus an in-process one whose source declares a one-file corpus served at *url*."""

    def fetch_into(folder: Path) -> None:
        (folder / "words.txt").write_bytes(fetch(f"{url}/words.txt", sha256, "mine/words.txt").read_bytes())

    corpus = seqkit.Corpus(
        "my_words",
        folder="my_words",
        files=(seqkit.CorpusFile("words.txt", 12, sha256),),
        licence="CC0",
        url=url,
        fetch=fetch_into,
    )

    class Mine:
        @seqkit.hookimpl
        def register_datasets(self, register):
            register(seqkit.Spec("my_source", build=lambda **options: [], corpora=(corpus,)))

    manager = PluginManager([("mine", Mine())])
    seqkit.set_plugin_manager(manager)
    return manager


def test_ls_lists_every_built_in_corpus_with_licence_size_and_presence(capsys, places):
    (places / "multi30k").mkdir(parents=True)
    (places / "multi30k" / "train.en.gz").write_bytes(b"x")
    code, out, _ = cli(capsys, "data", "ls", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) >= BUILT_IN
    polarity = rows["sentence_polarity"]
    assert polarity["source"] == "sentence_polarity" and polarity["plugin"] == "sentiment"
    assert "CC BY 4.0" in polarity["licence"] and polarity["size"] == 626_334 + 612_441
    assert all(len(f["sha256"]) == 64 for f in polarity["files"]) and not polarity["present"]
    present = {f["path"]: f["present"] for f in rows["multi30k"]["files"]}
    assert present["train.en.gz"] and not present["train.de.gz"] and not rows["multi30k"]["present"]
    code, out, _ = cli(capsys, "data", "ls")
    assert "sentence_polarity  (source 'sentence_polarity', plugin 'sentiment')" in out and f"={places}" in out


def test_a_third_party_corpus_is_listed_fetched_from_a_server_and_verified(capsys, places, server):
    url, served = server
    content = b"one\ntwo\nsix\n"
    (served / "words.txt").write_bytes(content)
    third_party(url, hashlib.sha256(content).hexdigest())
    code, out, _ = cli(capsys, "data", "ls")
    assert "my_words  (source 'my_source', plugin 'mine')" in out
    code, out, _ = cli(capsys, "data", "fetch", "my_words")
    assert code == 0 and "wrote 1 files" in out
    assert (places / "my_words" / "words.txt").read_bytes() == content
    assert cli(capsys, "data", "fetch", "my_words")[1].startswith("my_words: already present")
    code, out, _ = cli(capsys, "data", "verify", "my_words")
    assert code == 0 and "my_words/words.txt: ok" in out
    (places / "my_words" / "words.txt").write_bytes(b"one\ntwo\nten\n")
    code, out, err = cli(capsys, "data", "verify")
    assert code == 2 and "my_words/words.txt: mismatch" in out
    assert err.count("\n") == 1 and f"{places / 'my_words' / 'words.txt'}: SHA-256 differs" in err


def test_a_download_with_another_checksum_writes_nothing(capsys, places, server):
    url, served = server
    (served / "words.txt").write_bytes(b"not the file\n")
    third_party(url, hashlib.sha256(b"one\ntwo\nsix\n").hexdigest())
    code, _, err = cli(capsys, "data", "fetch", "my_words")
    assert code == 2 and err.count("error:") == 1 and "words.txt: downloaded file is corrupted" in err
    assert not (places / "my_words" / "words.txt").exists()
    assert not [p for p in places.glob(".*") if p.name.startswith(".my_words")]  # no staging folder left behind


def test_polarity_fetches_its_archive_and_reencodes_it(capsys, places, server, monkeypatch):
    """The built-in fetch, served locally: the archive is verified, its Latin-1 text written as UTF-8."""
    import seqkit_sentiment.polarity as polarity

    url, served = server
    texts = {"rt-polarity.pos": "un film tr\xe8s beau .\n", "rt-polarity.neg": "ennuyeux .\n"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in texts.items():
            data = text.encode("latin-1")
            info = tarfile.TarInfo(f"rt-polaritydata/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (served / "rt.tar.gz").write_bytes(buffer.getvalue())
    monkeypatch.setattr(polarity, "URL", f"{url}/rt.tar.gz")
    monkeypatch.setattr(polarity, "SHA256", hashlib.sha256(buffer.getvalue()).hexdigest())
    code, out, err = cli(capsys, "data", "fetch", "sentence_polarity")
    assert code == 0, err
    assert (places / "sentence_polarity" / "rt-polarity.pos").read_text(encoding="utf-8") == texts["rt-polarity.pos"]
    # converted from the canonical archive: checked against what was written, not the reference copy's checksums
    code, out, _ = cli(capsys, "data", "verify", "sentence_polarity")
    assert code == 0 and out.count(": ok") == 2


def test_verify_of_an_absent_corpus_says_how_to_get_it(capsys, places):
    code, _, err = cli(capsys, "data", "verify", "scitldr")
    assert code == 2 and "seqkit data fetch scitldr" in err
    code, _, err = cli(capsys, "data", "fetch", "scitlrd")
    assert code == 2 and "did you mean 'scitldr'" in err


def test_a_corpus_must_be_declared_with_the_corpus_type():
    class Bad:
        @seqkit.hookimpl
        def register_datasets(self, register):
            register(seqkit.Spec("bad", build=lambda: [], corpora=({"name": "x"},)))

    with pytest.raises(seqkit.PluginError, match="corpora must be a tuple of seqkit.Corpus"):
        PluginManager([("bad", Bad())], entry_points=False)


@pytest.mark.parametrize(
    "data,expected",
    [
        ({"kind": "sentence_polarity"}, "or set data.download=true to fetch the corpus"),
        ({"kind": "multi30k"}, "or set data.download=true to fetch it"),
        ({"kind": "table", "path": "reviews.tsv"}, "data.download=true is not available for data source 'table'"),
    ],
)
def test_a_missing_corpus_names_seqkit_data_and_download(capsys, places, tmp_path, data, expected):
    recipe = {
        "data": data,
        "tokenizer": {"kind": "word"},
        "task": {"kind": "translation" if data["kind"] == "multi30k" else "sentiment"},
        "model": {"cell": {"kind": "gru", "hidden_size": 4}},
    }
    code, _, err = cli(capsys, "train", write_recipe(tmp_path / "r.yaml", recipe), f"run_dir={tmp_path / 'run'}")
    assert code == 2 and err.count("\n") == 1, err
    assert f"looked under $SEQKIT_DATA={places}, which does not exist" in err and expected in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [["verify"], ["verify", "scitldr"], ["ls"], ["ls", "--json"], ["fetch", "scitldr"]])
def test_seqkit_data_naming_a_file_is_one_error_not_every_corpus_missing(capsys, tmp_path, monkeypatch, command):
    (tmp_path / "corpora.txt").write_text("not a folder\n")
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "corpora.txt"))
    code, out, err = cli(capsys, "data", *command)
    assert code == 2 and out == "", out
    expected = "expected a directory (the folder that holds the corpora), found a regular file"
    assert err == f"seqkit data: error: $SEQKIT_DATA={tmp_path / 'corpora.txt'}: {expected}\n"


@pytest.mark.parametrize("name", [None, "scitldr"])
def test_verify_under_a_missing_seqkit_data_says_so_once(capsys, places, name):
    code, out, err = cli(capsys, "data", "verify", *([name] if name else []))
    assert code == 2 and out == "", out
    assert err.count("\n") == 1 and f"$SEQKIT_DATA={places}: expected a directory" in err
    assert f"there is none; `seqkit data fetch {name or 'NAME'}` creates it" in err


def test_ls_under_a_missing_seqkit_data_says_it_does_not_exist_yet(capsys, places):
    code, out, _ = cli(capsys, "data", "ls")
    assert code == 0 and out.startswith(f"$SEQKIT_DATA={places} (no such directory yet: `seqkit data fetch NAME`")


def test_training_on_a_relative_path_under_seqkit_data_naming_a_file_names_the_variable(capsys, tmp_path, monkeypatch):
    (tmp_path / "corpora.txt").write_text("not a folder\n")
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path / "corpora.txt"))
    recipe = {
        "data": {"kind": "table", "path": "reviews.tsv"},
        "tokenizer": {"kind": "word"},
        "task": {"kind": "sentiment"},
        "model": {"cell": {"kind": "gru", "hidden_size": 4}},
    }
    code, _, err = cli(capsys, "train", write_recipe(tmp_path / "r.yaml", recipe), f"run_dir={tmp_path / 'run'}")
    assert code == 2 and err.count("\n") == 1, err
    assert f"$SEQKIT_DATA={tmp_path / 'corpora.txt'}: expected a directory" in err
    assert not (tmp_path / "run").exists()
    absolute = tmp_path / "reviews.tsv"  # an absolute path does not read $SEQKIT_DATA: trained as without it
    absolute.write_text("text\tlabel\ngood\tpos\nbad\tneg\n" * 20)
    recipe["data"]["path"] = str(absolute)
    code, _, err = cli(capsys, "validate", write_recipe(tmp_path / "r.yaml", recipe))
    assert code == 0, err
