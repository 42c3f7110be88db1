"""A third-party package written only against the public API — a two-width-state cell with an extra per-step input
and a numeric-series task without a tokenizer — installed for real, trained, evaluated and used through the CLI."""

from __future__ import annotations

import json

import pytest

import seqkit
from tests.helpers import ROOT, install_packages, seqkit_in

PACKAGE = ROOT / "tests" / "thirdparty" / "seqkit-series"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_packages(tmp_path_factory, PACKAGE)[0]


@pytest.mark.slow  # about a minute: pip install, then four CLI processes
def test_trains_evaluates_and_predicts_stacked_and_bidirectional(installed, tmp_path):
    run_dir = tmp_path / "run"
    # the recipe has no tokenizer section; its cell has 2 layers, both directions
    assert "ok" in seqkit_in(installed, "validate", "series/tiny").stdout
    out = seqkit_in(
        installed, "train", "series/tiny", f"run_dir={run_dir}", "trainer.max_epochs=2", cwd=tmp_path
    ).stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["test/accuracy"] <= 1 and "test/accuracy" in out
    checkpoint = run_dir / "best.ckpt"
    evaluated = json.loads(seqkit_in(installed, "eval", checkpoint, "--json").stdout)
    assert 0 <= evaluated["test/accuracy"] <= 1
    lines = tmp_path / "series.txt"
    lines.write_text('0.1,0.5,,1.2,1.9,2.4\n{"values": [2.0, null, 1.1, 0.4, -0.3]}\n-1,nan,-2\n')
    results = [
        json.loads(line)
        for line in seqkit_in(installed, "predict", checkpoint, "--json", "--input", lines).stdout.splitlines()
    ]
    assert [r["label"] in ("up", "down") for r in results] == [True, True, True]
    assert all(0.5 <= r["probability"] <= 1 for r in results)
    bad = seqkit_in(installed, "predict", checkpoint, "1,x,3", code=2)
    assert "input 1: expected numbers separated by commas, got 'x'" in bad.stderr and "Traceback" not in bad.stderr


def test_the_task_passes_the_kit_without_a_tokenizer(monkeypatch):
    # in-process (the installed run above is opt-in as slow): the same package, registered without installing it
    monkeypatch.syspath_prepend(str(PACKAGE))
    import seqkit_series

    from seqkit.testing import check_task

    manager = seqkit.PluginManager([("series", seqkit_series)], entry_points=False)
    passed = check_task(
        "series_class",
        dataset="synthetic_series",
        dataset_options={"size": 64},
        tokenizer=None,
        cell="decay",
        input_size=1,
        plugins=manager,
    )
    assert "predict" in passed and "training" in passed


def test_the_cell_passes_the_kit_with_its_extra_input_and_position(monkeypatch):
    # check_cell feeds a cell that declares extra inputs mask-like ones derived from each step's input
    monkeypatch.syspath_prepend(str(PACKAGE))
    import seqkit_series

    from seqkit.testing import check_cell

    manager = seqkit.PluginManager([("series", seqkit_series)], entry_points=False)
    assert "generic kernel" in check_cell("decay", plugins=manager, options={"fill": 0.5})
