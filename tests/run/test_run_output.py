"""What a run says and records: epoch lines off a terminal, the header and metrics.json's ``run`` record,
``runs/<recipe>/latest``, checkpoints named by run or recipe, environment errors and ``seqkit --version``."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import warnings

import pytest
import torch

from seqkit.allocator import libc_name
from seqkit.quiet import quiet_known_noise
from seqkit.report import ProgressBar
from tests.recipe_helpers import TINY, cli

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the errors of a machine without a GPU")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny quickstart runs under ``runs/quickstart/`` of a fresh folder, with what each printed."""
    from _pytest.monkeypatch import MonkeyPatch

    from seqkit.cli import main

    root = tmp_path_factory.mktemp("runs")
    patch = MonkeyPatch()
    patch.chdir(root)
    printed = []
    try:
        for name in ("first", "second"):
            stderr = root / f"{name}.err"
            with open(stderr, "w") as err, _redirect_stderr(err):
                assert main(["train", "quickstart", *TINY, f"run_dir=runs/quickstart/{name}"]) == 0
            printed.append(stderr.read_text())
    finally:
        patch.undo()
    return root, printed


class _redirect_stderr:
    def __init__(self, stream):
        self.stream, self.saved = stream, None

    def __enter__(self):
        self.saved, sys.stderr = sys.stderr, self.stream

    def __exit__(self, *exc):
        sys.stderr = self.saved


def test_a_run_off_a_terminal_prints_its_header_and_one_line_per_epoch(runs):
    root, (printed, _) = runs
    header = [line for line in printed.splitlines() if "seqkit train: kernels " in line]
    assert len(header) == 1
    assert "encoder=" in header[0] and "=auto" not in header[0]
    # the run's own count: the policy gives fewer threads while other processes keep CPUs busy, so on a shared
    # machine the first run and the second (the last to set torch's count) may differ
    threads = json.loads((root / "runs" / "quickstart" / "first" / "metrics.json").read_text())["run"]["threads"]
    assert "device cpu" in header[0] and f"{threads} thread{'s' if threads != 1 else ''} (" in header[0]
    assert "OpenMP wait passive" in header[0]
    glibc = (libc_name() or "").startswith("glibc")
    assert ("freed memory kept" if glibc else "allocator as is (not glibc)") in header[0]
    assert f"torch {torch.__version__}" in header[0] and "Lightning " in header[0] and "precision 32-true" in header[0]
    epochs = [line for line in printed.splitlines() if line.startswith("seqkit train: epoch ")]
    assert len(epochs) == 1 and re.match(
        r"seqkit train: epoch 1/1: 12 steps, train/loss \(mean\) \d\.\d{4}, val/accuracy ", epochs[0]
    )
    assert "v_num" not in printed and "💡" not in printed and "\r" not in printed


def test_metrics_json_records_what_ran(runs):
    root, _ = runs
    record = json.loads((root / "runs" / "quickstart" / "first" / "metrics.json").read_text())
    run = record["run"]
    assert run["kernels"]["train"]["encoder"] not in ("auto", "") and set(run["kernels"]) == {"train", "eval"}
    assert run["device"] == "cpu" and run["threads"] >= 1 and run["precision"] == "32-true"
    policy = run["thread_policy"]  # what the CLI chose and why
    assert policy["threads"] == run["threads"] and policy["reason"] and policy["wait"] == "passive"
    assert run["allocator_policy"]["keeps_freed"] == (libc_name() or "").startswith("glibc")
    assert run["versions"]["torch"] == torch.__version__ and run["versions"]["seqkit"]
    assert 0 <= record["test/accuracy"] <= 1


def test_a_recipes_thread_count_is_the_runs_own_and_reported(tmp_path, monkeypatch):
    from seqkit import threads
    from seqkit.cli import main

    before = torch.get_num_threads()
    wanted = before + 1  # not what any policy chose here: the run must have set it
    # the CLI's own policy: fixed, as the busy CPUs of a loaded machine would otherwise lower it
    monkeypatch.setenv("SEQKIT_THREADS", str(before))
    monkeypatch.chdir(tmp_path)
    stderr = tmp_path / "err.txt"
    with open(stderr, "w") as err, _redirect_stderr(err):
        assert main(["train", "quickstart", *TINY, f"trainer.threads={wanted}", "run_dir=run"]) == 0
    header = [line for line in stderr.read_text().splitlines() if "seqkit train: kernels " in line]
    assert len(header) == 1 and f"{wanted} threads (trainer.threads={wanted}), OpenMP wait passive" in header[0]
    run = json.loads((tmp_path / "run" / "metrics.json").read_text())["run"]
    assert run["threads"] == wanted and run["thread_policy"]["reason"] == f"trainer.threads={wanted}"
    # the next run in this process starts from the CLI's policy again, count and reason
    assert torch.get_num_threads() == before and threads.applied().reason == f"SEQKIT_THREADS={before}"


def test_latest_points_at_the_newest_run_and_names_its_checkpoint(capsys, runs, monkeypatch):
    root, _ = runs
    latest = root / "runs" / "quickstart" / "latest"
    assert latest.is_symlink() and os.readlink(latest) == "second"
    monkeypatch.chdir(root)
    code, out, err = cli(capsys, "predict", "quickstart", "--json", "a fine film")
    assert code == 0 and json.loads(out)["label"] in ("positive", "negative")
    assert "using runs/quickstart/latest/best.ckpt (runs/quickstart/second, the newest run)" in err  # said, on stderr
    by_dir = cli(capsys, "eval", "runs/quickstart/first", "--json")
    by_file = cli(capsys, "eval", "runs/quickstart/first/best.ckpt", "--json")
    assert by_dir[0] == 0 and json.loads(by_dir[1]) == json.loads(by_file[1])
    code, _, err = cli(capsys, "eval", "runs/quickstart/first/logs")
    assert code == 2 and "a directory without best.ckpt" in err and err.count("\n") == 1
    code, _, err = cli(capsys, "predict", "translation/gru_reverse", "x")
    assert code == 2 and err.count("\n") == 1 and "runs/translation/gru_reverse/latest does not exist" in err
    assert "seqkit train translation/gru_reverse" in err
    code, _, err = cli(capsys, "eval", "elsewhere/model.ckpt")
    assert code == 2 and "checkpoint elsewhere/model.ckpt not found" in err


@no_gpu
@pytest.mark.parametrize(
    "override,expected",
    [
        ("trainer.accelerator=gpu", "trainer.accelerator=gpu: this machine has"),
        ("trainer.accelerator=cuda", "trainer.accelerator=cuda: this machine has"),
        ("trainer.devices=[3]", "trainer.devices=[3]: device indices name GPUs; this machine has"),
        ("trainer.devices=-1", "trainer.devices=-1 asks for every GPU, but the run is on the CPU"),
        ("trainer={accelerator: auto, devices: '-1'}", "trainer.devices=-1 asks for every GPU"),
        ("trainer.precision=16-mixd", "trainer.precision: expected one of"),
    ],
)
def test_an_environment_mismatch_is_one_line_naming_the_key(capsys, tmp_path, override, expected):
    code, _, err = cli(capsys, "train", "quickstart", *TINY, override, f"run_dir={tmp_path / 'run'}")
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert "internal error" not in err and not (tmp_path / "run").exists()
    if "precision" not in override:
        assert "no CUDA GPU" in err and "CPU cores" in err


@no_gpu
def test_eval_refuses_a_gpu_it_does_not_have(capsys, runs):
    root, _ = runs
    run = root / "runs" / "quickstart" / "first"
    code, _, err = cli(capsys, "eval", run, "trainer.accelerator=gpu")
    assert code == 2 and err.count("\n") == 1 and "trainer.accelerator=gpu: this machine has" in err
    assert cli(capsys, "eval", run, "trainer.devices=[3]", "--json")[0] == 0  # evaluation runs on one device


def test_version_names_seqkit_torch_lightning_and_every_plugin(capsys):
    from seqkit.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    lines = capsys.readouterr().out.splitlines()
    assert exit.value.code == 0
    assert lines[0].startswith("seqkit ") and lines[1] == f"torch {torch.__version__}"
    assert lines[2].startswith("Lightning 2.")
    assert any(line.startswith("plugin sentiment ") for line in lines)


@pytest.mark.slow  # a fresh interpreter imports torch: seconds
def test_version_does_not_import_lightning():
    probe = (
        "import sys\nfrom seqkit.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print('lightning imported:', 'pytorch_lightning' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "lightning imported: False"


def test_the_progress_bar_shows_no_logger_version(monkeypatch):
    from pytorch_lightning.callbacks import TQDMProgressBar

    monkeypatch.setattr(TQDMProgressBar, "get_metrics", lambda self, trainer, module: {"v_num": "csv", "loss": 0.5})
    assert ProgressBar().get_metrics(None, None) == {"loss": 0.5}


def test_the_bar_is_on_only_on_a_terminal_unless_the_recipe_says(monkeypatch):
    import seqkit.train as train
    from seqkit.recipes import load_recipe

    for terminal in (False, True):
        monkeypatch.setattr(train, "on_a_terminal", lambda terminal=terminal: terminal)
        assert train.trainer_options(load_recipe("quickstart", []))["enable_progress_bar"] is terminal
        chosen = train.trainer_options(load_recipe("quickstart", ["trainer.enable_progress_bar=true"]))
        assert chosen["enable_progress_bar"] is True


def test_only_the_known_messages_are_silenced(caplog):
    quiet_known_noise()
    lightning = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    with caplog.at_level(logging.INFO, logger=lightning.name):
        lightning.info("💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]")
        lightning.info("GPU available: False, used: False")
        lightning.info("Something new from Lightning")
        lightning.warning("GPU available: but this is a warning")
    assert [r.getMessage() for r in caplog.records] == [
        "Something new from Lightning",
        "GPU available: but this is a warning",
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_known_noise()
        message = "`isinstance(treespec, LeafSpec)` is deprecated, use ..."
        warnings.warn_explicit(message, FutureWarning, "_pytree.py", 21, module="pytorch_lightning.utilities._pytree")
        warnings.warn_explicit(message, FutureWarning, "mine.py", 1, module="my_plugin.tree")
        warnings.warn_explicit(
            "another deprecation", FutureWarning, "_pytree.py", 22, module="pytorch_lightning.utilities._pytree"
        )
    assert [(str(w.message)[:10], w.filename) for w in caught] == [
        (message[:10], "mine.py"),
        ("another de", "_pytree.py"),
    ]


def test_a_checkpoint_saved_during_training_adds_no_line(tmp_path):
    # Lightning says "`weights_only` was not set, defaulting to `False`" when asked to save without saying what:
    # misleading (it is about saving, not loading) and noise in the one-line-per-epoch output.
    args = ["train", "quickstart", *TINY, "checkpoint_every_n_steps=2", f"run_dir={tmp_path / 'run'}"]
    done = subprocess.run([sys.executable, "-m", "seqkit", *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "last.ckpt").exists()
    assert "weights_only" not in done.stdout + done.stderr
