"""The token_tags task and tagged_tsv source pass the conformance kit; entity F1 counts exact spans and types."""

import pytest
import torch
from seqkit_tokentags.data import tagged_tsv
from seqkit_tokentags.entities import EntityF1, spans

from seqkit.testing import check_dataset, check_task


def test_conformance():
    check_dataset("tagged_tsv")
    check_task("token_tags", dataset="tagged_tsv")


def test_the_shipped_corpus():
    records = tagged_tsv()
    assert len(records) == 52
    assert records[0] == {
        "tokens": ["Maria", "Lopez", "flew", "to", "Madrid", "on", "Monday", "."],
        "tags": ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O"],
    }


def test_a_bad_line_names_file_and_line(tmp_path):
    from seqkit import DataError

    (tmp_path / "bad.tsv").write_text("Paris\tB-LOC\nno-tab-here\n")
    with pytest.raises(DataError, match=r"bad.tsv:2: expected token<TAB>tag"):
        tagged_tsv(str(tmp_path / "bad.tsv"))


@pytest.mark.parametrize(
    "tags,expected",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], {("PER", 0, 2), ("LOC", 3, 4)}),
        (["B-PER", "B-PER"], {("PER", 0, 1), ("PER", 1, 2)}),  # two adjacent entities
        (["O", "I-ORG", "I-ORG"], {("ORG", 1, 3)}),  # I- after O starts one (conlleval)
        (["B-PER", "I-LOC"], {("PER", 0, 1), ("LOC", 1, 2)}),  # a type change starts another
        (["O", "O"], set()),
    ],
)
def test_spans(tags, expected):
    assert spans(tags) == expected


def test_entity_f1_needs_type_and_exact_span():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    metric = EntityF1(tags)
    gold = [[1, 2, 0, 3]]  # PER(0,2) LOC(3,4)
    metric.update([[1, 0, 0, 3]], gold)  # PER span too short: wrong; LOC right
    metric.update([[3, 4, 0, 0]], gold)  # right span, wrong type; LOC missed
    # tp 1; predicted 2 + 1 = 3; gold 2 + 2 = 4: F1 = 2 / 7
    torch.testing.assert_close(metric.compute(), torch.tensor(2 / 7))
