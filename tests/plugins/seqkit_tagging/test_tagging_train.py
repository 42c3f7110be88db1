"""The tagging task end to end: the toy recipe learns to tag new names perfectly; eval's table, predict's spans."""

from __future__ import annotations

import json

import pytest

from seqkit.testing import check_task
from tests.recipe_helpers import cli


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    import torch

    from seqkit.cli import main

    run_dir = tmp_path_factory.mktemp("toy") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest, and much faster on a shared machine
    try:
        assert main(["train", "tagging/gru_toy", f"run_dir={run_dir}"]) == 0
    finally:
        torch.set_num_threads(threads)
    return run_dir


def test_the_toy_recipe_tags_unseen_names_perfectly(toy_run) -> None:
    metrics = json.loads((toy_run / "metrics.json").read_text())
    # names are new in every sentence: only casing, characters and the word before can tag them
    assert metrics["test/entity_f1"] == 1.0 and metrics["test/accuracy"] == 1.0, metrics
    assert metrics["test/f1_PER"] == metrics["test/f1_LOC"] == metrics["test/f1_ORG"] == 1.0


def test_eval_prints_the_per_type_table(capsys, toy_run) -> None:
    code, out, _ = cli(capsys, "eval", toy_run)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["type", "precision", "recall", "F1"]
    assert [line.split()[0] for line in lines[1:4]] == ["LOC", "ORG", "PER"]
    assert lines[5].split() == ["overall", "100.00", "100.00", "100.00"]
    code, out, _ = cli(capsys, "eval", toy_run, "--json")
    assert json.loads(out)["test/f1_PER"] == 1.0


def test_predict_prints_tags_and_spans_with_character_offsets(capsys, toy_run) -> None:
    text = "the  mr Kobaven said in Salti Mura"
    code, out, _ = cli(capsys, "predict", toy_run, "--json", text)
    assert code == 0
    result = json.loads(out)
    assert result["tags"][:7] == ["O", "O", "B-PER", "O", "O", "B-LOC", "I-LOC"]
    spans = [(e["type"], e["start"], e["end"]) for e in result["entities"]][:2]
    assert spans == [("PER", 8, 15), ("LOC", 24, 34)]
    assert [text[a:b] for _, a, b in spans] == ["Kobaven", "Salti Mura"]  # offsets into the text as given
    code, out, _ = cli(capsys, "predict", toy_run, text, "at Osttelu \x1b[2J")
    assert out.splitlines()[0].startswith("the/O mr/O Kobaven/B-PER said/O")
    assert "  PER  'Kobaven'  8-15" in out.splitlines()
    assert "\x1b" not in out  # the input's control characters are escaped, not sent to the terminal


def test_conformance_on_generated_sentences() -> None:
    check_task("tagging", dataset="synthetic_tagging")


@pytest.mark.parametrize(("key", "value"), [("lowercase", "yes"), ("max_word_chars", "30"), ("max_word_chars", 0)])
def test_a_tampered_featurisation_option_in_a_checkpoints_state_is_named(key, value):
    from seqkit_tagging.task import TaggingTask

    from seqkit import DataError

    task = TaggingTask()
    state = {**task.state_dict(), "tags": ["O", "B-PER"], key: value}
    with pytest.raises(DataError, match=rf"tagging state: {key} must be"):
        task.load_state_dict(state)
