"""Pair data sources: tatoeba, multi30k, scitldr and table pairs read ../shared/data; bad input is one line."""

from __future__ import annotations

import gzip

import pytest
from seqkit_summarization.sources import scitldr
from seqkit_text.sources import table
from seqkit_translation.sources import multi30k, tatoeba

from seqkit.data import DataError


@pytest.fixture
def shared_data(shared_data):
    """The root of the shared corpora, once the ones these tests read are all there (else skipped)."""
    for name in ("tatoeba_deu_eng", "multi30k", "scitldr"):
        root = shared_data(name).parent
    return root


def test_tatoeba_directions(shared_data):
    en_de = tatoeba(direction="en-de")
    de_en = tatoeba(direction="de-en")
    assert len(en_de) == 50_001
    assert en_de[1] == {"source": "Hi.", "target": "Hallo!"}
    assert de_en[1] == {"source": "Hallo!", "target": "Hi."}
    assert en_de[1].where.endswith("deu-eng.tsv:2")


def test_tatoeba_rejects_unknown_direction_and_bad_lines(tmp_path):
    with pytest.raises(ValueError, match="en-de or de-en"):
        tatoeba(str(tmp_path / "x.tsv"), direction="en-fr")
    bad = tmp_path / "pairs.tsv"
    bad.write_text("Hi.\tHallo!\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.tsv:2: expected english<TAB>german"):
        tatoeba(str(bad))


def test_multi30k_official_splits(shared_data):
    splits = multi30k()
    assert {k: len(v) for k, v in splits.items()} == {"train": 29_000, "valid": 1_014, "test": 1_000}
    assert splits["train"][0]["source"].startswith("Two young, White males")
    reverse = multi30k(direction="de-en")
    assert reverse["test"][0]["target"] == splits["test"][0]["source"]


def test_multi30k_misaligned_files_name_them(tmp_path):
    for stem in ("train", "val", "test_2016_flickr"):
        for lang, lines in (("en", ["a", "b", "c"]), ("de", ["x", "y"] if stem == "val" else ["x", "y", "z"])):
            with gzip.open(tmp_path / f"{stem}.{lang}.gz", "wt", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"val.de.gz:3: 3 lines in val.en.gz but 2 in val.de.gz"):
        multi30k(str(tmp_path))


def test_scitldr_tldr_and_title(shared_data):
    splits = scitldr()
    assert {k: len(v) for k, v in splits.items()} == {"train": 1_992, "valid": 619, "test": 618}
    record = splits["test"][0]
    assert record["target"] == record["references"][0]
    assert max(len(r["references"]) for r in splits["test"]) > 1  # every TLDR scores
    titles = scitldr(target="title")
    assert titles["train"][0]["references"] == [titles["train"][0]["target"]]
    with pytest.raises(ValueError, match="tldr or title"):
        scitldr(target="abstract")


def test_table_serves_pairs(tmp_path):
    file = tmp_path / "pairs.tsv"
    file.write_text("en\tde\nHi.\tHallo!\nBye.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.tsv:3: expected 2 columns"):
        table(str(file), source_field="en", target_field="de")
    file.write_text("en\tde\nHi.\tHallo!\n", encoding="utf-8")
    assert table(str(file), source_field="en", target_field="de") == [{"source": "Hi.", "target": "Hallo!"}]


def test_unknown_direction_is_a_one_line_recipe_error(capsys, shared_data):
    from tests.recipe_helpers import cli

    code, _, err = cli(capsys, "train", "translation/gru_tatoeba", "data.direction=en-fr")
    assert code != 0
    assert "data" in err and "en-de or de-en" in err and "Traceback" not in err


def test_named_sources_download_when_absent(tmp_path, monkeypatch):
    """``download: true`` fetches the canonical files into the cache (here from file:// URLs, never the network)."""
    import json
    import zipfile

    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))
    remote = tmp_path / "remote"
    remote.mkdir()
    with zipfile.ZipFile(remote / "deu-eng.zip", "w") as z:
        z.writestr("deu.txt", "Hi.\tHallo!\tCC-BY 2.0 (France) Attribution: tatoeba.org\n")
    got = tatoeba(str(tmp_path / "absent.tsv"), download=True, url=(remote / "deu-eng.zip").as_uri())
    assert got == [{"source": "Hi.", "target": "Hallo!"}]
    for stem in ("train", "val", "test_2016_flickr"):
        for lang in ("en", "de"):
            with gzip.open(remote / f"{stem}.{lang}.gz", "wt", encoding="utf-8") as f:
                f.write(f"{stem} {lang}\n")
    splits = multi30k(str(tmp_path / "absent"), download=True, url=remote.as_uri())
    assert splits["test"] == [{"source": "test_2016_flickr en", "target": "test_2016_flickr de"}]
    row = {"source": ["One.", "Two."], "target": ["Short."], "title": "T"}
    for stem in ("train", "dev", "test"):
        (remote / f"{stem}.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    splits = scitldr(str(tmp_path / "absent"), download=True, url=remote.as_uri())
    assert splits["valid"] == [{"source": "One. Two.", "target": "Short.", "references": ["Short."]}]
