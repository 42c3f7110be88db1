"""``seqkit bench --matrix``: what it reports over a (tiny) shape matrix, not how fast anything is."""

from __future__ import annotations

import json
import re

import pytest

from seqkit.cli import main

TINY = ["--matrix-batch", "1,2", "--matrix-hidden", "8", "--matrix-steps", "3", "--repeat", "1", "--warmup", "1"]


def test_matrix_times_every_kernel_that_runs_here_both_passes(capsys, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert main(["bench", "gru", "--matrix", *TINY, "--dtype", "fp32", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["rows"]
    assert {(r["B"], r["H"], r["T"]) for r in rows} == {(1, 8, 3), (2, 8, 3)}
    backends = {r["backend"] for r in rows}
    expected = {"native", "generic", "reference", "torch.nn"}
    assert expected <= backends <= expected | {"onednn"}
    assert {r["pass"] for r in rows} == {"forward", "forward+backward"}
    for row in rows:
        assert row["us_per_step"] > 0 and row["tokens_per_s"] > 0
        assert row["max_error_vs_fp64"] < 1e-5
        assert row["peak_bytes"] is None  # measured on CUDA only
        if row["backend"] == "torch.nn":
            assert row["ratio_to_torch_nn"] == 1.0


def test_matrix_writes_json_to_a_file_and_prints_a_table(capsys, tmp_path):
    target = tmp_path / "out.json"
    args = ["bench", "gru", "--matrix", *TINY, "--backends", "reference", "--option", "reset_after=false"]
    assert main([*args, "--json", str(target)]) == 0
    out = capsys.readouterr().out
    assert "us/step" in out and "tokens/s" in out
    rows = json.loads(target.read_text())["rows"]
    assert {r["backend"] for r in rows} == {"reference"}  # no torch.nn for a reset_before GRU
    assert all(r["ratio_to_torch_nn"] is None for r in rows)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--plot", "x.png"], "--plot applies to --matrix runs; add --matrix"),
        (["--rows", "x.jsonl"], "--rows applies to --matrix runs; add --matrix"),
        (["--matrix", "--matrix-hidden", "8,x"], "--matrix-hidden expects a comma list of integers"),
        (["--matrix", "--matrix-steps", "0"], "--matrix-steps values must be at least 1"),
    ],
)
def test_matrix_argument_errors_are_one_line(capsys, extra, message):
    assert main(["bench", "gru", "--repeat", "1", *extra]) == 2
    assert message in capsys.readouterr().err


def test_rows_stream_as_json_lines_and_a_deadline_stops_new_shapes(capsys, tmp_path):
    rows_file = tmp_path / "rows.jsonl"
    args = ["bench", "gru", "--matrix", *TINY, "--backends", "reference", "--rows", str(rows_file)]
    assert main([*args, "--deadline", "0"]) == 0  # the first shape starts at 0 s; the second is past the deadline
    assert "1 shapes not run" in capsys.readouterr().out
    lines = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert {(r["B"], r["backend"], r["pass"]) for r in lines} == {
        (1, backend, label) for backend in ("reference", "torch.nn") for label in ("forward", "forward+backward")
    }
    assert all(r["cell"] == "gru" and r["dtype"] == "float32" and r["device"] == "cpu" for r in lines)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r["date"]) for r in lines)  # the rule table dates each entry


def test_a_shape_that_fails_is_a_row_with_its_error_and_the_matrix_goes_on(capsys, tmp_path, monkeypatch):
    from seqkit.bench import matrix as bench_matrix

    measure = bench_matrix.measure_shape

    def fails_at_batch_one(args, backends, options, shape):
        if shape[0] == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        return measure(args, backends, options, shape)

    monkeypatch.setattr(bench_matrix, "measure_shape", fails_at_batch_one)
    target = tmp_path / "out.json"
    assert main(["bench", "gru", "--matrix", *TINY, "--backends", "reference", "--json", str(target)]) == 0
    assert "failed: RuntimeError: CUDA out of memory (simulated)" in capsys.readouterr().out
    rows = json.loads(target.read_text())["rows"]
    assert rows[0] == {"B": 1, "H": 8, "T": 3, "error": "RuntimeError: CUDA out of memory (simulated)"}
    assert {r["B"] for r in rows[1:]} == {2}
