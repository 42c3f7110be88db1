"""The ``conll`` data source: columns, -DOCSTART-, blank lines, gzip, official splits, and its bad-input errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from seqkit_tagging.conll import conll

from seqkit import DataError

TEXT = "-DOCSTART- -X- O\n\nEl DA O\nAbogado NC B-PER\nGeneral AQ I-PER\n\n\nMadrid NP B-LOC\n. Fp O\n"


def test_reads_sentences_columns_and_docstart(tmp_path: Path) -> None:
    file = tmp_path / "esp.train"
    file.write_text(TEXT, encoding="utf-8")
    records = conll(str(file))
    assert [r["tokens"] for r in records] == [["El", "Abogado", "General"], ["Madrid", "."]]
    assert [r["tags"] for r in records] == [["O", "B-PER", "I-PER"], ["B-LOC", "O"]]
    assert records[1].where == f"{file}:8"  # errors about a sentence name its first line
    assert conll(str(file), tag_column=1)[0]["tags"] == ["DA", "NC", "AQ"]  # any column, counted from 0


def test_a_folder_gives_the_official_splits_plain_or_gzip(tmp_path: Path) -> None:
    for name in ("train", "testa"):
        (tmp_path / f"ned.{name}").write_text(TEXT, encoding="utf-8")
    with gzip.open(tmp_path / "ned.testb.gz", "wt", encoding="utf-8") as stream:
        stream.write("Gent NP B-LOC\n")
    splits = conll(str(tmp_path), language="ned")
    assert sorted(splits) == ["test", "train", "valid"]
    assert splits["test"][0]["tokens"] == ["Gent"]
    with pytest.raises(DataError, match=r"esp\.train\.gz.*not found.*data\.download=true"):
        conll(str(tmp_path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("El O\nsolo\n", r":2: expected at least 2 columns"),
        ("El DA O\n", r":1: expected at least 5 columns"),
        ("\n\n-DOCSTART- O\n", r"no sentences"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "bad.txt"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=str(file).replace(".", r"\.") + ".*" + message):
        conll(str(file), tag_column=4 if "5 columns" in message else -1)


def test_bad_bytes_and_broken_gzip_are_data_errors(tmp_path: Path) -> None:
    file = tmp_path / "latin.txt"
    file.write_bytes("Le O\nEspa\xf1a B-LOC\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt:2: not utf-8 text.*data\.encoding"):
        conll(str(file), encoding="utf-8")
    assert conll(str(file), encoding="latin-1")[0]["tokens"] == ["Le", "España"]
    with pytest.raises(DataError, match=r"latin\.txt: data\.encoding: unknown encoding 'klingon'"):
        conll(str(file), encoding="klingon")


def test_auto_encoding_reads_utf8_files_as_utf8_and_others_as_latin1(tmp_path: Path) -> None:
    # CoNLL-2002's and CoNLL-2003's own files are Latin-1; converted copies (as ../shared/data's) are UTF-8
    latin = tmp_path / "ned.train.gz"
    with gzip.open(latin, "wb") as stream:  # the only non-ASCII byte far into the file: the whole file decides
        stream.write(("".join(f"w{i} O\n" for i in range(50_000)) + "Espa\xf1a B-LOC\n").encode("latin-1"))
    assert conll(str(latin))[0]["tokens"][-1] == "España"
    utf8 = tmp_path / "utf8.txt"
    utf8.write_text("Le O\nEspaña B-LOC\nÀ O\n", encoding="utf-8")  # as Latin-1 this would read "EspaÃ±a"
    assert conll(str(utf8))[0]["tokens"] == ["Le", "España", "À"]
    broken = tmp_path / "broken.gz"
    data = gzip.compress("".join(f"w{i} O\n" for i in range(2000)).encode())
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"broken\.gz: cannot be read"):
        conll(str(broken))


def test_a_line_without_end_is_refused_unread(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("seqkit_tagging.conll.MAX_LINE_BYTES", 64)
    file = tmp_path / "long.txt"
    file.write_text("El O\n" + "x" * 200, encoding="utf-8")
    with pytest.raises(DataError, match=r"long\.txt:2: a line longer than 64 bytes"):
        conll(str(file))


def test_the_reference_corpus_when_present() -> None:
    from seqkit import resolve_path

    if not (resolve_path("conll2002") / "esp.testb.gz").is_file():
        pytest.skip("CoNLL-2002 is not under $SEQKIT_DATA")
    splits = conll("conll2002")
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [8323, 1915, 1517]
    assert sum(len(r["tokens"]) for r in splits["train"]) == 264_715
