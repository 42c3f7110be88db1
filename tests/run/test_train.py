"""``seqkit train|eval|predict`` end to end through the CLI: run directory, metrics, checkpoints, exact resume."""

from __future__ import annotations

import json

import pytest
import torch

from tests.recipe_helpers import TINY, cli

METRICS = {"val/accuracy", "val/f1", "val/loss", "test/accuracy", "test/f1", "test/loss"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One tiny quickstart run shared by the read-only tests below."""
    from seqkit.cli import main

    run_dir = tmp_path_factory.mktemp("quick") / "run"
    assert main(["train", "quickstart", *TINY, "trainer.max_epochs=2", f"run_dir={run_dir}"]) == 0
    return run_dir


def test_train_writes_the_run_directory(quick_run):
    for name in ("best.ckpt", "last.ckpt", "recipe.yaml", "metrics.json", "logs/csv/metrics.csv"):
        assert (quick_run / name).is_file(), name
    assert list((quick_run / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    metrics = json.loads((quick_run / "metrics.json").read_text())
    assert set(metrics) >= METRICS
    assert all(0 <= metrics[k] <= 1 for k in METRICS if not k.endswith("loss"))
    recipe = (quick_run / "recipe.yaml").read_text()
    assert recipe.startswith("# seqkit train ") and "size: 240" in recipe  # resolved, with the overrides


def test_checkpoint_holds_everything_eval_and_predict_need(quick_run):
    checkpoint = torch.load(quick_run / "best.ckpt", weights_only=True)  # plain data: loads without pickle code
    saved = checkpoint["seqkit"]
    assert saved["task"] == {"labels": ["negative", "positive"]}
    assert saved["tokenizer"]["itos"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert saved["recipe"]["data"]["kind"] == "synthetic_sentiment"
    plugins = {p["name"]: p for p in saved["plugins"]}
    assert plugins["sentiment"]["version"] and "tasks" in plugins["sentiment"]["registers"]


def test_train_prints_run_directory_and_metrics(capsys, tmp_path):
    code, out, _ = cli(capsys, "train", "quickstart", *TINY, f"run_dir={tmp_path / 'r'}")
    assert code == 0
    assert f"run directory: {tmp_path / 'r'}" in out
    assert "test/accuracy: " in out and "val/f1: " in out


def test_eval_json_matches_metrics_json(capsys, quick_run):
    code, out, _ = cli(capsys, "eval", quick_run / "best.ckpt", "--json")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    saved = json.loads((quick_run / "metrics.json").read_text())
    assert set(result) == {"test/accuracy", "test/f1", "test/loss"}
    assert result["test/accuracy"] == pytest.approx(saved["test/accuracy"])
    code, out, _ = cli(capsys, "eval", quick_run / "best.ckpt", "--split", "valid", "--json")
    assert json.loads(out)["val/f1"] == pytest.approx(saved["val/f1"])


def test_predict_from_the_checkpoint_alone(capsys, quick_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no recipes, no data here: the checkpoint must suffice
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    code, out, _ = cli(
        capsys, "predict", quick_run / "best.ckpt", "--json", "the plot was not bad", "the cast is great"
    )
    assert code == 0
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["text"] for r in results] == ["the plot was not bad", "the cast is great"]
    assert all(r["label"] in ("negative", "positive") and 0.5 <= r["probability"] <= 1 for r in results)
    texts = tmp_path / "texts.txt"
    texts.write_text("the movie was dull\n\nthe story felt charming\n")
    code, out, _ = cli(capsys, "predict", quick_run / "best.ckpt", "--input", texts)
    rows = [line.split("\t") for line in out.strip().splitlines()]
    assert [row[2] for row in rows] == ["the movie was dull", "the story felt charming"]
    assert all(row[0] in ("negative", "positive") and float(row[1]) >= 0.5 for row in rows)


def test_predict_and_eval_errors(capsys, tmp_path, quick_run):
    code, _, err = cli(capsys, "predict", tmp_path / "missing.ckpt", "text")
    assert code == 2 and "missing.ckpt not found" in err
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    code, _, err = cli(capsys, "eval", junk)
    # a text file is named as what it is not, without guessing at pickles or echoing torch's reader
    assert code == 2 and "junk.ckpt: not a seqkit checkpoint (not a file written by torch.save)" in err
    assert "objects other than tensors" not in err and "Error" not in err
    code, _, err = cli(capsys, "predict", quick_run / "best.ckpt")
    assert code == 2 and "nothing to predict" in err


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.mark.parametrize("tbptt", [[], ["task.tbptt_steps=3"]], ids=["full_bptt", "tbptt"])
def test_resume_continues_exactly(capsys, tmp_path, tbptt):
    """Two epochs in one go equal one epoch plus a resumed one, weight for weight (dropout and TBPTT included)."""
    common = [
        *TINY,
        *tbptt,
        "model.dropout=0.3",
        "optim.schedule=constant",
        "optim.warmup_steps=20",
        "callbacks.early_stopping=null",
    ]
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'a'}")[0] == 0
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=1", f"run_dir={tmp_path / 'b'}")[0] == 0
    first = _weights(tmp_path / "b" / "last.ckpt")
    code, _, err = cli(
        capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'b'}", "resume=last"
    )
    assert code == 0, err
    whole, resumed = _weights(tmp_path / "a" / "last.ckpt"), _weights(tmp_path / "b" / "last.ckpt")
    assert any(not torch.equal(first[k], resumed[k]) for k in first)  # the resumed epoch really trained
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


@pytest.mark.parametrize(
    "setting",
    ["trainer.max_time=00:01:00:00", "trainer.precision=bf16-mixed"],
    ids=["time_limit", "mixed_precision"],
)
def test_a_run_with_a_time_limit_or_mixed_precision_resumes(capsys, tmp_path, setting):
    """Their saved state differs from a fresh template's kind: a Timer's seconds are floats (a fresh one's 0), and
    a mixed-precision run's Adam is not fused. Both were refused as tampered with."""
    common = [*TINY, setting, f"run_dir={tmp_path / 'run'}"]
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=1")[0] == 0
    code, _, err = cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=2", "resume=last")
    assert code == 0, err


def test_resume_last_without_a_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "train", "quickstart", *TINY, "resume=last")
    assert code == 2 and "no earlier run of 'quickstart'" in err


def test_polarity_recipe_on_a_small_slice(capsys, tmp_path, shared_data):
    """The real-data recipe, cut to a few hundred snippets of ../shared/data/sentence_polarity."""
    shared_data("sentence_polarity")
    args = ["data.limit=160", "model.embed_dim=16", "model.cell.hidden_size=16", "trainer.max_epochs=1"]
    args += ["trainer.enable_progress_bar=false", f"run_dir={tmp_path / 'mr'}"]
    code, out, err = cli(capsys, "train", "sentiment/gru_polarity", *args)
    assert code == 0, err
    metrics = json.loads((tmp_path / "mr" / "metrics.json").read_text())
    assert set(metrics) >= METRICS
    code, out, _ = cli(capsys, "predict", tmp_path / "mr" / "best.ckpt", "--json", "a gorgeous , witty film")
    assert json.loads(out)["label"] in ("positive", "negative")


def test_ctrl_c_keeps_the_last_checkpoint_and_resume_finishes_the_run(capsys, tmp_path, monkeypatch):
    """Interrupted in its second epoch, a run keeps epoch 1's last.ckpt intact; resuming ends where an
    uninterrupted run ends."""
    import signal

    from seqkit.module import SeqkitModule

    common = [*TINY, "callbacks.early_stopping=null", "optim.schedule=constant", "trainer.max_epochs=2"]
    assert cli(capsys, "train", "quickstart", *common, f"run_dir={tmp_path / 'whole'}")[0] == 0

    original = SeqkitModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.current_epoch == 1 and batch_idx == 3:
            raise KeyboardInterrupt
        return original(self, batch, batch_idx)

    monkeypatch.setattr(SeqkitModule, "training_step", interrupted)
    try:
        code, _, err = cli(capsys, "train", "quickstart", *common, f"run_dir={tmp_path / 'cut'}")
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning ignores further Ctrl-C
    assert code == 130 and "interrupted" in err and "resume=" in err
    checkpoint = torch.load(tmp_path / "cut" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 0 and not list((tmp_path / "cut").glob(".*partial"))
    monkeypatch.setattr(SeqkitModule, "training_step", original)
    code, _, err = cli(capsys, "train", tmp_path / "cut" / "recipe.yaml", "resume=last")
    assert code == 0, err
    whole, resumed = _weights(tmp_path / "whole" / "last.ckpt"), _weights(tmp_path / "cut" / "last.ckpt")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


@pytest.mark.parametrize(
    "variant",
    [
        ["model.cell.kind=lstm", "model.cell.num_layers=2", "model.cell.bidirectional=true", "task.pooling=attention"],
        ["model.cell.kind=rnn", "task.pooling=mean", "trainer.precision=bf16-mixed", "tokenizer.kind=char"],
        ["model.cell.reset_after=false", "task.pooling=last", "tokenizer.kind=bpe", "tokenizer.vocab_size=60"],
    ],
    ids=["lstm-2layer-bidirectional-attention", "rnn-mean-bf16-char", "gru-reset-before-last-bpe"],
)
def test_any_cell_pooling_tokenizer_and_precision_train(capsys, tmp_path, variant):
    code, out, err = cli(capsys, "train", "quickstart", *TINY, *variant, f"run_dir={tmp_path}")
    assert code == 0, err
    assert 0 <= json.loads((tmp_path / "metrics.json").read_text())["test/accuracy"] <= 1
    code, out, _ = cli(capsys, "predict", tmp_path / "best.ckpt", "--json", "the plot was not bad")
    assert json.loads(out)["label"] in ("positive", "negative")


def test_plateau_schedule_resumes_exactly(capsys, tmp_path):
    common = [*TINY, "callbacks.early_stopping=null", "optim.schedule=plateau", "optim.patience=0", "optim.lr=1e-4"]
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=3", f"run_dir={tmp_path / 'a'}")[0] == 0
    assert cli(capsys, "train", "quickstart", *common, "trainer.max_epochs=2", f"run_dir={tmp_path / 'b'}")[0] == 0
    code, _, err = cli(
        capsys, "train", "quickstart", *common, "trainer.max_epochs=3", f"run_dir={tmp_path / 'b'}", "resume=last"
    )
    assert code == 0, err
    a, b = (torch.load(tmp_path / d / "last.ckpt", weights_only=True) for d in "ab")
    assert a["seqkit_plateau"] == b["seqkit_plateau"] and a["seqkit_plateau"]["num_bad_epochs"] >= 0
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_empty_test_split_and_shape_changing_overrides(capsys, tmp_path, quick_run):
    code, _, err = cli(capsys, "train", "quickstart", *TINY, "data.split.test=0", f"run_dir={tmp_path / 'r'}")
    assert code == 0, err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "val/accuracy" in metrics and not any(k.startswith("test/") for k in metrics)
    code, _, err = cli(capsys, "eval", quick_run / "best.ckpt", "data.split.test=0")
    assert code == 2 and "the test split is empty" in err
    code, _, err = cli(capsys, "eval", quick_run / "best.ckpt", "model.embed_dim=16")
    assert code == 2 and "did an override change its size?" in err
    args = [
        "train",
        "quickstart",
        *TINY,
        "model.embed_dim=16",
        f"resume={quick_run / 'last.ckpt'}",
        f"run_dir={tmp_path / 'x'}",
    ]
    code, _, err = cli(capsys, *args)
    assert code == 2 and "did an override change its size?" in err


def test_endless_run_with_a_decaying_schedule_is_an_error(capsys, tmp_path):
    code, _, err = cli(
        capsys, "train", "quickstart", *TINY, "trainer.max_epochs=-1", "optim.schedule=cosine", f"run_dir={tmp_path}"
    )
    assert code == 2 and "set trainer.max_epochs or trainer.max_steps" in err


def test_texts_after_double_dash_may_start_with_a_dash(capsys, quick_run, tmp_path):
    code, out, _ = cli(capsys, "predict", quick_run / "best.ckpt", "--json", "--", "-not bad")
    assert code == 0 and json.loads(out)["text"] == "-not bad"
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"good\r\nbad\r\n")
    code, out, _ = cli(capsys, "predict", quick_run / "best.ckpt", "--json", "--input", crlf)
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["good", "bad"]


def test_batched_predictions_equal_one_at_a_time(quick_run):
    from seqkit.checkpoint import load

    parts = load(quick_run / "best.ckpt")
    texts = ["the plot was not bad", "dull", "the cast is great but the ending felt boring", "x " * 40]
    together = parts.task.predict(parts.module.model, texts, parts.tokenizer)
    alone = [parts.task.predict(parts.module.model, [t], parts.tokenizer)[0] for t in texts]
    assert [r["label"] for r in together] == [r["label"] for r in alone]
    assert all(abs(a["probability"] - b["probability"]) < 1e-3 for a, b in zip(together, alone))


def test_resuming_a_run_that_stopped_early_trains_no_more(capsys, tmp_path):
    stop = [
        *TINY,
        "trainer.max_epochs=4",
        "callbacks.early_stopping.patience=1",
        "callbacks.early_stopping.min_delta=1.0",
    ]
    assert cli(capsys, "train", "quickstart", *stop, f"run_dir={tmp_path}")[0] == 0
    before = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert before["epoch"] == 1  # stopped after its second epoch
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    code, _, err = cli(capsys, "train", "quickstart", *stop, f"run_dir={tmp_path}", "resume=last")
    assert code == 0 and "early stopping ended this run at epoch 1" in err
    after = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert after["global_step"] == before["global_step"]
    resumed = json.loads((tmp_path / "metrics.json").read_text())
    assert {k: v for k, v in resumed.items() if k != "run"} == {k: v for k, v in metrics.items() if k != "run"}
    assert "train" not in resumed["run"]["kernels"]  # nothing trained this time, and the record says so


def test_adam_steps_cpu_parameters_with_torchs_fused_kernel_and_the_same_result():
    import torch

    from seqkit.optim import build_optimizer, optim_options

    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(50, 7, dtype=torch.float64)) for _ in range(2)]
    plain = [torch.nn.Parameter(w.detach().clone()) for w in weights]
    fused = build_optimizer(weights, optim_options(kind="adamw", lr=0.1, weight_decay=0.01))
    assert fused.defaults["fused"] is True
    reference = torch.optim.AdamW(plain, lr=0.1, weight_decay=0.01, foreach=False)
    for _ in range(3):
        for group in (weights, plain):
            for w in group:
                w.grad = torch.sin(w.detach() * 3)
        fused.step()
        reference.step()
    for a, b in zip(weights, plain):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    meta = [torch.nn.Parameter(torch.empty(3, device="meta"))]
    assert not build_optimizer(meta, optim_options(kind="adam")).defaults["fused"]


def test_overwrite_of_a_run_dir_holding_a_named_pipe_for_recipe_yaml_does_not_wait_on_it(capsys, tmp_path, fifo):
    # overwrite=true looks for `seqkit train`'s recipe.yaml first: a named pipe there is no run, and never opened
    import time

    from tests.helpers import FIFO_RESCUE_S

    fifo(tmp_path / "project" / "recipe.yaml")
    began = time.monotonic()
    code, _, err = cli(capsys, "train", "quickstart", *TINY, f"run_dir={tmp_path / 'project'}", "overwrite=true")
    assert time.monotonic() - began < FIFO_RESCUE_S, "the named pipe was opened"
    assert code == 2 and "holds files but no seqkit run" in err, err
    assert (tmp_path / "project" / "recipe.yaml").exists()
