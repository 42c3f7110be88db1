"""Kill training at random moments (SIGKILL, SIGTERM, SIGINT); ``resume=last`` must end with identical weights."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import ROOT
from tests.recipe_helpers import TINY, cli

COMMON = [
    *TINY,
    "data.size=160",  # 8 training batches an epoch
    "trainer.max_epochs=2",
    "callbacks.early_stopping=null",
    "model.dropout=0.3",
    "model.cell.num_layers=2",
    "optim.schedule=cosine",
    "checkpoint_every_n_steps=1",
]


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _start(run_dir, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "seqkit", "train", "quickstart", *COMMON, f"run_dir={run_dir}", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The uninterrupted run every interrupted one must match."""
    from seqkit.cli import main

    run_dir = tmp_path_factory.mktemp("whole") / "run"
    assert main(["train", "quickstart", *COMMON, f"run_dir={run_dir}"]) == 0
    return _weights(run_dir / "last.ckpt")


def _wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def kill_and_resume(whole, run_dir, seed, sig=signal.SIGKILL, max_delay=2.0):
    """Start a run, send *sig* at a random moment after its first checkpoint, resume it; True if identical.

    Returns ``(killed_mid_run, identical, step_at_kill)``."""
    rng = random.Random(seed)
    process = _start(run_dir)
    _wait_for(run_dir / "last.ckpt", process)
    time.sleep(rng.uniform(0.0, max_delay))
    alive = process.poll() is None
    if alive:
        process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    step = torch.load(run_dir / "last.ckpt", weights_only=True)["global_step"]
    assert not list(run_dir.glob(".*.partial")) or sig == signal.SIGKILL  # a kill may leave a temp file, never a ckpt
    # a signal that lands after the run finished (metrics written, the process on its way out) just ends it
    finished = (run_dir / "metrics.json").exists()
    if sig == signal.SIGTERM and alive and not finished:
        assert process.returncode == 143 and "resume=" in err, err
    if sig == signal.SIGINT and alive and not finished:
        assert process.returncode == 130 and "resume=" in err, err
    from seqkit.cli import main

    assert main(["train", str(run_dir / "recipe.yaml"), "resume=last"]) == 0
    return alive, _same(whole, _weights(run_dir / "last.ckpt")), step


def _trials(whole, tmp_path, count, signals, max_delay=2.0):
    results = []
    for trial in range(count):
        sig = signals[trial % len(signals)]
        run_dir = tmp_path / f"t{trial}"
        results.append((sig.name, *kill_and_resume(whole, run_dir, seed=trial, sig=sig, max_delay=max_delay)))
    print("\nkill trials (signal, killed mid-run, identical, last.ckpt step at kill):", results)
    assert all(identical for _, _, identical, _ in results), results
    return results


def test_sigkill_at_random_moments_then_resume_is_exact(whole, tmp_path):
    results = _trials(whole, tmp_path, 2, [signal.SIGKILL], max_delay=0.5)
    assert any(alive for _, alive, _, _ in results)  # a kill that came after the run ended would prove nothing


@pytest.mark.slow
def test_many_random_kills_then_resume_is_exact(whole, tmp_path):
    """The issue's measure: at least five real SIGKILLs at random moments, plus SIGTERM and SIGINT from outside."""
    results = _trials(whole, tmp_path, 8, [signal.SIGKILL] * 3 + [signal.SIGTERM], max_delay=0.5)
    assert sum(alive for name, alive, _, _ in results if name == "SIGKILL") >= 5


@pytest.mark.parametrize(
    "sig,code", [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)], ids=["TERM", "INT"]
)
def test_a_signal_saves_a_mid_epoch_checkpoint_and_resume_is_exact(capsys, tmp_path, monkeypatch, whole, sig, code):
    from seqkit.module import SeqkitModule

    original = SeqkitModule.training_step

    def signalled(self, batch, batch_idx):
        if self.current_epoch == 0 and batch_idx == 4:
            os.kill(os.getpid(), sig)  # handled after this step: checkpoint, then stop
        return original(self, batch, batch_idx)

    monkeypatch.setattr(SeqkitModule, "training_step", signalled)
    # what was there before: Python's own SIGINT handler, or SIG_IGN where a shell started the tests in the background
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        args = ["train", "quickstart", *COMMON, "checkpoint_every_n_steps=0", f"run_dir={tmp_path}"]
        result, _, err = cli(capsys, *args)
    finally:
        assert {s: signal.getsignal(s) for s in before} == before  # handlers put back
    assert result == code and f"{sig.name}: stopped after saving" in err and "resume=" in err
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 5 and saved["SeqkitData"]["epoch"] == 0 and saved["SeqkitData"]["steps"] == 5
    assert not list(tmp_path.glob(".*.partial")) and not (tmp_path / "metrics.json").exists()
    monkeypatch.setattr(SeqkitModule, "training_step", original)
    result, _, err = cli(capsys, "train", tmp_path / "recipe.yaml", "resume=last")
    assert result == 0, err
    assert _same(whole, _weights(tmp_path / "last.ckpt"))


@pytest.mark.parametrize(
    "hook,epoch,batch,position",
    [
        # mid-epoch: last.ckpt is after batch 4 (the default run's SIGKILL and SIGTERM tests cover this too)
        pytest.param("training_step", 1, 5, {"epoch": 1, "steps": 5}, marks=pytest.mark.slow),
        # all batches trained, the epoch not closed
        pytest.param("validation_step", 0, 0, {"epoch": 0, "steps": 8}, marks=pytest.mark.slow),
    ],
    ids=["mid-epoch", "before-epoch-end-validation"],
)
def test_a_crash_resumes_from_the_last_step(capsys, tmp_path, monkeypatch, whole, hook, epoch, batch, position):
    """In-process: a crash (an exception) leaves the last per-step last.ckpt; resuming continues from there."""
    from seqkit.module import SeqkitModule

    original = getattr(SeqkitModule, hook)

    def crash(self, batch_, batch_idx):
        if not self.trainer.sanity_checking and self.current_epoch == epoch and batch_idx == batch:
            raise RuntimeError("simulated crash")
        return original(self, batch_, batch_idx)

    monkeypatch.setattr(SeqkitModule, hook, crash)
    code, _, err = cli(capsys, "train", "quickstart", *COMMON, f"run_dir={tmp_path}")
    assert code == 1 and "simulated crash" in err and "Traceback" not in err
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["epoch"] == epoch and position.items() <= saved["SeqkitData"].items()
    monkeypatch.setattr(SeqkitModule, hook, original)
    code, _, err = cli(capsys, "train", tmp_path / "recipe.yaml", "resume=last")
    assert code == 0, err
    assert _same(whole, _weights(tmp_path / "last.ckpt"))
