"""The ``seqkit`` console script: plugins listing, JSON output, one-line errors with exit status 2."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import seqkit
from seqkit.cli import build_parser, main

SEQKIT = shutil.which("seqkit")


def run(*args, env=None):
    return subprocess.run([SEQKIT, *args], capture_output=True, text=True, env=env)


@pytest.mark.skipif(SEQKIT is None, reason="the seqkit console script is not installed")
def test_console_script_lists_plugins_as_json():
    result = run("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = json.loads(result.stdout)
    assert all(set(p) == {"name", "distribution", "version", "registers"} for p in plugins)
    by_name = {p["name"]: p for p in plugins}
    assert by_name["lstm"]["registers"] == {"cells": ["lstm"]}
    assert "rnn/native" in by_name["native"]["registers"]["kernels"]


@pytest.mark.skipif(SEQKIT is None, reason="the seqkit console script is not installed")
def test_console_script_reports_a_plugin_error_in_one_line(monkeypatch):
    import os

    result = run("plugins", env={**os.environ, "SEQKIT_PLUGINS": "gru,lsmt"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "SEQKIT_PLUGINS names plugin 'lsmt', which is not installed; did you mean 'lstm'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_table(capsys):
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PLUGIN", "DISTRIBUTION", "VERSION", "REGISTERS"]
    assert any(line.split()[:4] == ["gru", "seqkit", "0.1.0", "cells:"] for line in lines)


def test_plugins_table_with_nothing_loaded(capsys, monkeypatch):
    monkeypatch.setenv("SEQKIT_PLUGINS", "")
    assert main(["plugins"]) == 0
    assert "no plugins loaded" in capsys.readouterr().out


# a small, fast shape for checking what bench reports, not how fast anything is
TINY = ["--batch", "2", "--steps", "3", "--input", "4", "--hidden", "5", "--repeat", "1", "--warmup", "1"]


@pytest.mark.usefixtures("without_onednn")
def test_bench_reports_ratios_to_torch_nn(capsys):
    assert main(["bench", "gru", *TINY, "--backends", "auto,reference", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["backend"]: r for r in report["results"]}
    assert rows["auto"]["ran"] == "native" and rows["reference"]["ran"] == "reference"
    assert rows["torch.nn"]["ratio_to_torch_nn"] == 1.0
    assert rows["auto"]["ms"] > 0


def test_bench_of_a_cell_without_torch_counterpart_is_timed_against_a_gru_of_its_size(capsys):
    assert main(["bench", "gru", *TINY, "--option", "reset_after=false", "--backends", "reference"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[:2] for row in rows] == [["reference", "reference"], ["torch.nn.GRU", "torch.nn.GRU"]]
    assert rows[1][3] == "1.000" and float(rows[0][3]) > 0


def test_bench_with_an_unknown_backend_exits_2(capsys):
    assert main(["bench", "gru", "--backends", "warp", "--repeat", "1"]) == 2
    assert "unknown backend 'warp'" in capsys.readouterr().err


def test_bench_with_varied_lengths_runs_torch_nn_on_packed_sequences(capsys):
    assert main(["bench", "lstm", *TINY, "--lengths", "varied", "--bidirectional", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["lengths"] == "varied"
    assert [r["backend"] for r in report["results"]] == ["auto", "reference", "torch.nn"]


def test_bench_cells_times_every_cell_with_each_kernel_that_can_run_it(capsys):
    from seqkit.bench.cells import available_kernels

    assert main(["bench", "cells", *TINY, "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)["cells"]
    kinds = seqkit.get_plugin_manager().cells.names()
    assert [(r["cell"], r["options"]) for r in reports] == [
        (kind, options) for kind in kinds for options in [{}, *([{"reset_after": False}] if kind == "gru" else [])]
    ]
    args = build_parser().parse_args(["bench", "cells", *TINY])
    for report in reports:
        rows = {r["backend"]: r for r in report["results"]}
        kernels = available_kernels(report["cell"], args, report["options"])
        assert list(rows) == [*kernels, "generic (step only)", "reference (step only)", "torch.nn.GRU"]
        assert "cudnn" not in rows and {"generic", "reference"} <= set(kernels)
        assert rows["torch.nn.GRU"]["ratio_to_torch_nn_gru"] == 1.0
        assert rows["reference"]["speedup_over_step_loop"] == 1
        assert rows["reference (step only)"]["speedup_over_step_loop"] == 1
        assert all(r["ms"] > 0 for r in rows.values())
        assert rows["generic (step only)"]["ran"] == "generic"


def test_bench_cells_prints_one_table(capsys):
    assert main(["bench", "cells", *TINY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cells forward+backward  B=2 T=3 I=4 H=5")
    assert lines[1].split() == ["cell", "backend", "ran", "ms", "x", "GRU", "x", "faster"]
    assert any(line.split()[:2] == ["lstm", "native"] for line in lines)
    assert any(line.split()[:4] == ["gru", "reset_after=False", "generic", "(step"] for line in lines)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--backends", ","], "--backends must name at least one backend"),
        (["--repeat", "0"], "--repeat must be at least 1, got 0"),
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--warmup", "0"], "--warmup must be at least 1, got 0"),
        (["--device", "nowhere"], "--device 'nowhere' is not a device"),
        (["--device", "mps"], "--device mps: expected cpu or cuda"),
        (["--device", "meta"], "--device meta: expected cpu or cuda"),
        (["--hidden", "10000000"], "--hidden must be at most 65,536, got 10,000,000"),
        (["--input", str(10**12)], "--input must be at most 65,536, got 1,000,000,000,000"),
        (["--batch", str(10**9)], "--batch must be at most 16,777,216, got 1,000,000,000"),
        (["--steps", str(10**10)], "--steps must be at most 16,777,216, got 10,000,000,000"),
        (["--layers", "100000"], "--layers must be at most 1,024, got 100,000"),
        (["--repeat", str(10**9)], "--repeat must be at most 10,000, got 1,000,000,000"),
        (["--warmup", str(10**9)], "--warmup must be at most 10,000, got 1,000,000,000"),
        (["--hidden", "0"], "--hidden must be at least 1, got 0"),
        (["--batch", "-3"], "--batch must be at least 1, got -3"),
        (["--input", "-1"], "--input must be at least 1, got -1"),
        (["--layers", "0"], "--layers must be at least 1, got 0"),
        (["--matrix", "--matrix-hidden", "64,10000000"], "--matrix-hidden values must be at most 65,536"),
        (["--matrix", "--matrix-batch", "1,-2"], "--matrix-batch values must be at least 1"),
    ],
)
def test_bench_rejects_bad_arguments_in_one_line(capsys, extra, message):
    assert main(["bench", "gru", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "extra,shape",
    [
        (["--batch", "4000000", "--steps", "100000", "--hidden", "4096"], "--batch 4000000 --steps 100000"),
        (["--layers", "1024", "--hidden", "65536", "--forward-only"], "--hidden 65536 --layers 1024"),
        (
            ["--matrix", "--matrix-batch", "1,16000000", "--matrix-steps", "16000000"],
            "--matrix-batch 16000000 --matrix-hidden 64 --matrix-steps 16000000",
        ),
    ],
)
def test_bench_refuses_a_shape_larger_than_the_memory_before_allocating_it(capsys, extra, shape):
    for command in (["gru"], ["cells", "--cells", "gru"]) if "--matrix" not in extra else (["gru"],):
        if "--forward-only" in extra and command[0] == "cells":
            continue
        assert main(["bench", *command, *extra, "--repeat", "1", "--backends", "reference"]) == 2
        err = capsys.readouterr().err
        assert shape in err and "the layer's tensors need about" in err and "free on cpu" in err, err
        assert err.count("\n") == 1 and "internal error" not in err


def test_plugins_lists_what_works_and_reports_a_broken_plugin(capsys, tmp_path, monkeypatch):
    from tests.helpers import make_distribution

    make_distribution(tmp_path, "seqkit-broken", "1.0", {"broken": "seqkit_broken"}, {"seqkit_broken": "import nope\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["plugins", "--json"]) == 2
    captured = capsys.readouterr()
    assert "gru" in {p["name"] for p in json.loads(captured.out)}
    assert captured.err.startswith("seqkit plugins: error: plugin 'broken' (distribution seqkit-broken 1.0) failed")


def test_python_dash_m_seqkit_is_the_same_command():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "seqkit", "plugins", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "gru" in {p["name"] for p in json.loads(result.stdout)}


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("OMP_NUM_THREADS", "4,abc", "whole number of threads in [1, 4096], then one of at least 1 per nesting level"),
        ("OMP_NUM_THREADS", "4,0", "whole number of threads in [1, 4096], then one of at least 1 per nesting level"),
        ("OMP_NUM_THREADS", "4,", "whole number of threads in [1, 4096], then one of at least 1 per nesting level"),
        ("OMP_WAIT_POLICY", "abc", "expected ACTIVE or PASSIVE"),
        ("OMP_WAIT_POLICY", "activex", "expected ACTIVE or PASSIVE"),
        ("GOMP_SPINCOUNT", "abc", "expected a whole number of spins"),
        ("GOMP_SPINCOUNT", "-1", "expected a whole number of spins"),
        ("GOMP_SPINCOUNT", "10kk", "expected a whole number of spins"),
        ("GOMP_SPINCOUNT", "9" * 25, "expected a whole number of spins"),
    ],
)
def test_an_openmp_setting_the_runtime_would_reject_is_a_one_line_error(capsys, monkeypatch, name, value, expected):
    # GNU OpenMP only warns and falls back to its default: seqkit would run with, and report, a setting not in force
    monkeypatch.setenv(name, value)
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert f"environment variable {name}={value!r}" in err and expected in err and err.count("\n") == 1
