"""No leaks: memory stays flat over many epochs of a small run and over a long ``predict --input`` stream."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT
from tests.recipe_helpers import TINY, cli, train_tiny

MB = 1024 * 1024


def rss() -> int:
    """This process's resident memory in bytes (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("leaks"), "data.size=80") / "best.ckpt"


def _epochs(capsys, tmp_path, monkeypatch, epochs):
    from seqkit.module import SeqkitModule

    samples = []

    def record(self):
        samples.append(rss())

    monkeypatch.setattr(SeqkitModule, "on_train_epoch_end", record, raising=False)
    args = [*TINY, "data.size=80", f"trainer.max_epochs={epochs}", "trainer.log_every_n_steps=1"]
    args += ["callbacks.early_stopping=null", "optim.schedule=constant", "checkpoint_every_n_steps=2"]
    code, _, err = cli(capsys, "train", "quickstart", *args, f"run_dir={tmp_path}")
    assert code == 0, err
    assert len(samples) == epochs
    # After a few warm-up epochs (allocator pools, lazily built kernels), memory must stay flat.
    warm = 3
    growth = max(samples[warm:]) - samples[warm]  # bytes
    peak = max(samples[warm:])
    print(f"\nRSS over {epochs} epochs: after epoch {warm + 1} {samples[warm] / MB:.1f} MB, max {peak / MB:.1f} MB")
    return growth


def test_memory_stays_flat_over_many_epochs(capsys, tmp_path, monkeypatch):
    assert _epochs(capsys, tmp_path, monkeypatch, 10) < 20 * MB


@pytest.mark.slow
def test_memory_stays_flat_over_hundreds_of_epochs(capsys, tmp_path, monkeypatch):
    assert _epochs(capsys, tmp_path, monkeypatch, 200) < 20 * MB


PREDICT = textwrap.dedent(
    """
    import json, resource, sys
    from seqkit.cli import main

    peaks = []
    for path in sys.argv[2:]:
        with open("/dev/null", "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                code = main(["predict", sys.argv[1], "--input", path])
            finally:
                sys.stdout = stdout
        assert code == 0, code
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(peaks))
    """
)


def _predict_peaks(checkpoint, tmp_path, lines):
    files = []
    for n in lines:
        path = tmp_path / f"in{n}.txt"
        with open(path, "w") as stream:
            for i in range(n):
                stream.write(f"the plot was not bad but the ending felt boring number {i}\n")
        files.append(str(path))
    result = subprocess.run(
        [sys.executable, "-c", PREDICT, str(checkpoint), *files], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _stream(checkpoint, tmp_path, small, large, bound):
    """The peak after *large* lines is the peak after *small*: --input is streamed, not read whole."""
    first, second = _predict_peaks(checkpoint, tmp_path, [small, large])
    print(f"\npredict peak RSS: {small:,} lines {first / MB:.1f} MB, then {large:,} lines {second / MB:.1f} MB")
    assert second - first < bound


def test_a_long_predict_stream_runs_in_constant_memory(checkpoint, tmp_path):
    _stream(checkpoint, tmp_path, 500, 6_000, 10 * MB)


@pytest.mark.slow
def test_a_very_long_predict_stream_runs_in_constant_memory(checkpoint, tmp_path):
    _stream(checkpoint, tmp_path, 5_000, 200_000, 10 * MB)
