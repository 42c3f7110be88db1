"""Sequence-to-sequence end to end: a tiny model learns to reverse sequences through the real training path;
``seqkit predict`` with beam search, n-best and the attention plot from the checkpoint alone."""

from __future__ import annotations

import json
import time

import pytest

from tests.recipe_helpers import cli

REVERSE = [
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory):
    import torch

    from seqkit.cli import main

    run_dir = tmp_path_factory.mktemp("reverse") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest, and much faster on a shared machine
    try:
        start = time.perf_counter()
        assert main(["train", "translation/gru_reverse", *REVERSE, f"run_dir={run_dir}"]) == 0
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return run_dir, seconds


def test_a_tiny_model_learns_to_reverse_within_a_minute(reverse_run):
    from seqkit_seq2seq.synthetic import synthetic_pairs

    from seqkit.checkpoint import load
    from seqkit.data import split_records

    run_dir, seconds = reverse_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # Margins, not perfection: another CPU's math library rounds differently, so training takes another path
    # (a fresh AMD machine reached 0.99 exact where the development machine reached 1.0).
    assert metrics["val/bleu"] > 95 and metrics["test/bleu"] > 95, metrics
    # the recipe's test split, decoded from the checkpoint: nearly every reversal exact
    pairs = synthetic_pairs(mode="reverse", size=2000, symbols=10, min_length=3, max_length=8)
    test = split_records(pairs, {"valid": 0.1, "test": 0.1}, 1234)["test"]
    parts = load(run_dir / "best.ckpt")
    outputs = parts.task.predict(parts.module.model, [r["source"] for r in test], parts.tokenizer)
    exact = sum(o["output"] == r["target"] for o, r in zip(outputs, test)) / len(test)
    assert exact >= 0.95, exact
    assert seconds < 60 or pytest.skip(f"learned, but in {seconds:.0f} s on a busy machine")


def test_predict_from_the_checkpoint_alone(capsys, reverse_run, tmp_path):
    run_dir, _ = reverse_run
    source = "w1 w2 w3 w4 w5"
    code, out, _ = cli(capsys, "predict", run_dir / "best.ckpt", source, "--json", "--beam-size", "3", "--n-best", "2")
    assert code == 0
    result = json.loads(out)
    assert result["output"] == "w5 w4 w3 w2 w1"
    assert next(h["output"] for h in result["n_best"]) == result["output"] and len(result["n_best"]) == 2
    assert result["n_best"][0]["score"] >= result["n_best"][1]["score"]
    code, out, _ = cli(capsys, "predict", run_dir / "best.ckpt", source, "--beam-size", "1")
    assert code == 0 and out.split("\t")[0] == "w5 w4 w3 w2 w1"
    # impossible generation options are the user's to fix: one line, exit 2
    code, _, err = cli(capsys, "predict", run_dir / "best.ckpt", source, "--beam-size", "2", "--n-best", "5")
    assert code == 2 and "n_best" in err and "--n-best" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as usage:
        cli(capsys, "predict", run_dir / "best.ckpt", source, "--beam-size", "0")
    assert usage.value.code == 2 and "expected a positive integer, got 0" in capsys.readouterr().err


def test_attention_plot_from_the_checkpoint(capsys, reverse_run, tmp_path):
    pytest.importorskip("matplotlib")
    run_dir, _ = reverse_run
    plot = tmp_path / "attention.png"
    code, _, _ = cli(capsys, "predict", run_dir / "best.ckpt", "w1 w2 w3", "w4 w5", "--attention-plot", plot)
    assert code == 0
    for path in (plot, tmp_path / "attention-2.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generation_flags_are_refused_by_tasks_that_do_not_generate(capsys, tmp_path):
    from tests.recipe_helpers import TINY

    run_dir = tmp_path / "quick"
    assert cli(capsys, "train", "quickstart", *TINY, f"run_dir={run_dir}")[0] == 0
    code, _, err = cli(capsys, "predict", run_dir / "best.ckpt", "good", "--beam-size", "3")
    assert code != 0 and "--beam-size" in err and "does not take it" in err
