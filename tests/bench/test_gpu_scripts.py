"""The scripts that turn a GPU session's rows into docs tables and auto's rule work, on rows made up here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def row(backend, label, us, B=16, error=1e-3, **extra):
    base = {"cell": "gru", "options": {}, "dtype": "bfloat16", "device": "cuda", "gpu": "Fake GPU"}
    base.update(capability=[9, 0], torch="x", B=B, H=256, T=256, backend=backend, ran=backend, **extra)
    return {**base, "pass": label, "us_per_step": us, "max_error_vs_fp64": error}


def write(tmp_path, rows):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args):
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout


ROWS = [
    row("cudnn", "forward", 15.0),
    row("triton", "forward", 6.0),
    row("cudnn", "forward+backward", 36.0),
    row("triton", "forward+backward", 24.0),
    {"B": 64, "H": 256, "T": 256, "dtype": "bfloat16", "options": {}, "error": "RuntimeError: out of memory"},
]


def test_the_report_gives_speed_over_cudnn_per_shape_and_shows_failures(tmp_path):
    out = run("benchmarks/gpu_report.py", str(write(tmp_path, ROWS)))
    assert "| 256 | 256 | 16 | forward | 15.0 | 2.50 | — | — |" in out
    assert "| 256 | 256 | 16 | forward+backward | 36.0 | 1.50 | — | — |" in out
    assert "failed | RuntimeError: out of memory" in out


def test_the_rule_table_takes_both_passes_of_every_shape_timed_on_both_kernels(tmp_path):
    out = run("benchmarks/triton_rule.py", str(write(tmp_path, ROWS)), "--date", "2026-12-02")
    assert 'Measurement("Fake GPU", (9, 0), "bfloat16", True, 256, 16, 256, 0.400, 0.667, "2026-12-02"),' in out
    assert out.count("    Measurement(") == 1  # the one shape timed on both (the failed one is left out)


def test_the_shipped_rule_table_is_what_the_generator_makes_of_the_shipped_measurements():
    # the command in measured.py's header, so the table auto decides from never drifts from the rows in benchmarks/
    results = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "benchmarks").glob("gpu-*.json*"))
    out = run("benchmarks/triton_rule.py", "--capability", "9.0", "--date", "2026-11-30", *results)
    assert out == (ROOT / "plugins" / "seqkit_triton" / "measured.py").read_text()


@pytest.mark.parametrize("script", ["benchmarks/gpu_check.sh", "benchmarks/gpu_train.sh", "benchmarks/gpu_setup.sh"])
def test_the_device_scripts_parse(script):
    # they run only on a lent GPU machine, where a syntax error would cost the session's device time
    done = subprocess.run(["bash", "-n", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
