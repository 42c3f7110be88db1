"""Data sources and bad data: every problem is one line naming the file and line, through the CLI too."""

from __future__ import annotations

import gzip
import json

import pytest
from seqkit_sentiment.polarity import sentence_polarity
from seqkit_text.sources import lines_per_label, table

from seqkit.data import DataError, resolve_path, split_records
from tests.recipe_helpers import cli, quickstart, write_recipe


def test_tsv_csv_jsonl_plain_and_gzip(tmp_path):
    (tmp_path / "a.tsv").write_text("text\tlabel\ngreat fun\tpos\ndull\tneg\n")
    (tmp_path / "a.csv").write_text('label,text\npos,"great, fun"\nneg,dull\n')
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.write(
            json.dumps({"text": "great fun", "label": "pos"})
            + "\n"
            + json.dumps({"text": "dull", "label": "neg"})
            + "\n"
        )
    assert table(str(tmp_path / "a.tsv")) == [{"text": "great fun", "label": "pos"}, {"text": "dull", "label": "neg"}]
    assert table(str(tmp_path / "a.csv"))[0] == {"text": "great, fun", "label": "pos"}
    assert table(str(tmp_path / "a.jsonl.gz"))[1] == {"text": "dull", "label": "neg"}


def test_headerless_pairs_by_column_number(tmp_path):
    (tmp_path / "pairs.tsv").write_text("Hi.\tHallo!\nRun!\tLauf!\n")
    records = table(str(tmp_path / "pairs.tsv"), header=False, source_field=0, target_field=1)
    assert records == [{"source": "Hi.", "target": "Hallo!"}, {"source": "Run!", "target": "Lauf!"}]


def test_relative_paths_resolve_against_seqkit_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    assert resolve_path("x/y.tsv") == tmp_path / "x" / "y.tsv"
    assert resolve_path("/abs/y.tsv").as_posix() == "/abs/y.tsv"


def test_shared_polarity_corpus(shared_data):
    shared_data("sentence_polarity")
    records = sentence_polarity()
    assert len(records) == 10662
    assert sum(r["label"] == "positive" for r in records) == 5331


BAD = {
    "missing file": (None, "data file not found"),
    "empty file": (b"", "empty file"),
    "undecodable": (b"text\tlabel\nfine\tpos\ncaf\xe9\tneg\n", ":3: cannot decode byte 0xe9 as utf-8"),
    "empty line": (b"text\tlabel\nfine\tpos\n\nok\tneg\n", ":3: empty line"),
    "wrong columns": (b"text\tlabel\nfine\tpos\nonly one column\n", ":3: expected 2 columns (text, label), found 1"),
    "unknown column": (b"sentence\tlabel\nfine\tpos\n", ":2: no column 'text'; columns: sentence, label"),
    "unknown label": (
        b"text\tlabel\nfine\tpos\nmeh\tneutral\n",
        ":3: unknown label 'neutral'; expected one of ['neg', 'pos']",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_file_is_one_line_naming_file_and_line(capsys, tmp_path, case):
    content, expected = BAD[case]
    data = tmp_path / "data.tsv"
    if content is not None:
        data.write_bytes(content)
    recipe = quickstart()
    recipe["data"] = {"kind": "table", "path": str(data), "labels": ["neg", "pos"], "batch_size": 4}
    path = write_recipe(tmp_path / "bad.yaml", recipe)
    code, _, err = cli(capsys, "train", path, f"run_dir={tmp_path / 'run'}")
    assert code == 2
    assert str(data) in err and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing started


def test_a_headerless_row_of_another_width_is_one_line_naming_it(tmp_path):
    from seqkit_text.sources import table

    (tmp_path / "d.tsv").write_text("good fun\tpos\nbad\tneg\textra\n")
    with pytest.raises(DataError, match=r"d\.tsv:2: expected 2 columns \(as on line 1\), found 3"):
        table(str(tmp_path / "d.tsv"), header=False, text_field=0, label_field=1)


def test_lines_per_label(tmp_path):
    (tmp_path / "p.txt").write_text("good\nfine film\n")
    (tmp_path / "n.txt").write_text("bad\n")
    records = lines_per_label({"pos": str(tmp_path / "p.txt"), "neg": str(tmp_path / "n.txt")})
    assert [r["label"] for r in records] == ["pos", "pos", "neg"]
    (tmp_path / "e.txt").write_text("ok\n  \n")
    with pytest.raises(DataError, match=r"e.txt:2: empty line"):
        lines_per_label({"x": str(tmp_path / "e.txt")})


def test_polarity_folder_missing_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataError, match=r"rt-polarity.pos: sentence polarity file not found.*download=true"):
        sentence_polarity(str(tmp_path))


def test_split_is_seeded_deterministic_and_disjoint():
    records = [{"text": str(i), "label": "x"} for i in range(1000)]
    a = split_records(records, {"valid": 0.1, "test": 0.2}, seed=3)
    b = split_records(records, {"valid": 0.1, "test": 0.2}, seed=3)
    c = split_records(records, {"valid": 0.1, "test": 0.2}, seed=4)
    assert a == b and a != c
    assert (len(a["train"]), len(a["valid"]), len(a["test"])) == (700, 100, 200)
    seen = [r["text"] for split in a.values() for r in split]
    assert sorted(seen) == sorted(r["text"] for r in records)
    with pytest.raises(Exception, match="valid \\+ test must leave some training data"):
        split_records(records, {"valid": 0.5, "test": 0.5}, seed=0)


def test_byte_order_mark_and_corrupt_gzip(tmp_path):
    (tmp_path / "bom.csv").write_bytes("text,label\ngreat,pos\n".encode("utf-8-sig"))
    assert table(str(tmp_path / "bom.csv")) == [{"text": "great", "label": "pos"}]
    rows = "".join(f"review number {i * 7919 % 10007}\tpos\n" for i in range(3000))
    good = gzip.compress(("text\tlabel\n" + rows).encode())
    middle = len(good) // 2
    broken = good[:middle] + bytes(b ^ 0xFF for b in good[middle : middle + 40]) + good[middle + 40 :]
    (tmp_path / "bad.tsv.gz").write_bytes(broken)
    with pytest.raises(DataError, match=r"bad.tsv.gz(:\d+)?: "):  # a decompression error, or the garbage it made
        table(str(tmp_path / "bad.tsv.gz"))


def test_records_remember_their_file_and_line(capsys, tmp_path):
    """A label the trained task does not know is reported at its line, also when evaluating a checkpoint."""
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\n" + "".join(f"good film {i}\tpos\nbad film {i}\tneg\n" for i in range(30)))
    records = table(str(train))
    assert records[1].where == f"{train}:3"
    recipe = quickstart()
    recipe["data"] = {"kind": "table", "path": str(train), "batch_size": 8}
    recipe["trainer"].update({"max_epochs": 1, "enable_progress_bar": False})
    path = write_recipe(tmp_path / "r.yaml", recipe)
    assert cli(capsys, "train", path, f"run_dir={tmp_path / 'run'}")[0] == 0
    other = tmp_path / "other.tsv"
    other.write_text("text\tlabel\n" + "fine\tpos\n" * 20 + "meh\tneutral\n" + "fine\tneg\n" * 20)
    code, _, err = cli(capsys, "eval", tmp_path / "run" / "best.ckpt", f"data.path={other}", "data.split.test=0.9")
    assert code == 2 and f"{other}:22: unknown label 'neutral'" in err, err
