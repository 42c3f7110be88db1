"""The recipe's ``trainer`` section checked against Lightning's Trainer from a cached description, without Lightning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytorch_lightning import Trainer

from seqkit.recipe import trainer_signature
from seqkit.recipe.trainer_signature import decode, describe_parameters, read_parameters
from seqkit.recipe.typecheck import describe, parameters, type_problem
from tests.helpers import ROOT

VALUES = [0, 1, -1, 16, 2.5, True, False, None, "auto", "gpu", "16-mixed", "bf16-mixed", "bogus", "00:01:00:00"]
VALUES += [[0, 1], ["x"], {"a": 1}, {"minutes": 2}, [], {}]
PROBE = """
import sys
from seqkit.cli import main
status = main(sys.argv[1:])
print("LIGHTNING" if "pytorch_lightning" in sys.modules else "NO LIGHTNING", file=sys.stderr)
print("loaded:", *[m for m in ("torch._dynamo", "torchmetrics") if m in sys.modules], file=sys.stderr)
sys.exit(status)
"""
RECIPES = sorted(str(p.relative_to(ROOT / "recipes").with_suffix("")) for p in (ROOT / "recipes").rglob("*.yaml"))


def test_the_description_reads_back_as_lightnings_own_signature() -> None:
    live = parameters(Trainer)
    back = read_parameters(json.loads(json.dumps(describe_parameters(live))))
    assert list(back.named) == list(live.named) and back.var_kw == live.var_kw
    assert len(live.named) > 20 and set(back.hints) == set(live.hints) & set(live.named)  # not "return"
    for name, param in live.named.items():
        assert back.named[name].kind is param.kind
        assert (back.named[name].default is param.empty) == (param.default is param.empty)
        hint, read = live.hints.get(name), back.hints.get(name)
        assert describe(read) == describe(hint), name
        for value in VALUES:
            assert type_problem(value, read) == type_problem(value, hint), (name, value)


@pytest.mark.parametrize(
    "data",
    [
        "os.system",
        {"class": 5},
        {"eval": ["1"]},
        {"literal": [{"a": 1}]},
        {"union": []},
        {"dict": ["str"]},
        {"list": "int"},
        {"union": ["int"], "literal": [1]},
    ],
)
def test_anything_outside_the_vocabulary_is_refused(data: object) -> None:
    with pytest.raises(ValueError):
        decode(data)


def _validate(cache: Path, *overrides: str, recipe: str = "quickstart") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, "validate", recipe, *overrides],
        env={**os.environ, "SEQKIT_CACHE": str(cache)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_validate_checks_the_trainer_from_the_cache_without_importing_lightning(tmp_path: Path) -> None:
    bad = ("trainer.max_epochs=two", "trainer.precison=16", "trainer.num_nodes=[1]")
    without = _validate(tmp_path / "without", *bad)
    assert without.returncode == 2 and "LIGHTNING" in without.stderr.splitlines()
    assert not (tmp_path / "without").exists()  # a command that refused its recipe leaves no file behind
    ok = _validate(tmp_path / "cache", "trainer.max_epochs=2")
    assert ok.returncode == 0 and "LIGHTNING" in ok.stderr.splitlines()  # read from Lightning, then kept
    again = _validate(tmp_path / "cache", "trainer.max_epochs=2")
    assert again.returncode == 0 and again.stderr.splitlines()[-2:] == ["NO LIGHTNING", "loaded:"]
    cached = _validate(tmp_path / "cache", *bad)
    assert cached.returncode == 2 and "NO LIGHTNING" in cached.stderr.splitlines()
    problems = [line for line in without.stderr.splitlines() if "trainer." in line]
    assert len(problems) == 3 and "did you mean 'precision'" in without.stderr
    assert [line for line in cached.stderr.splitlines() if "trainer." in line] == problems


def test_a_damaged_cached_signature_is_read_from_lightning_again(tmp_path: Path) -> None:
    assert _validate(tmp_path).returncode == 0
    (cached,) = (tmp_path / "signatures").iterdir()
    kept = json.loads(cached.read_text())
    for damaged in ('{"key": ', json.dumps({**kept, "trainer": {"parameters": [{"name": 1}]}})):
        cached.write_text(damaged)
        refused = _validate(tmp_path, "trainer.max_epochs=-3")
        assert refused.returncode == 2 and "trainer.max_epochs" in refused.stderr
        assert "LIGHTNING" in refused.stderr.splitlines() and cached.read_text() == damaged  # refused: nothing written
        done = _validate(tmp_path, "trainer.max_epochs=3")
        assert done.returncode == 0 and "LIGHTNING" in done.stderr.splitlines()
        assert json.loads(cached.read_text()) == kept  # written whole again


def test_a_signature_cached_for_another_lightning_is_not_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path))
    key = trainer_signature._fingerprint()
    assert key is not None
    path = trainer_signature._cache_file(key)
    described = describe_parameters(parameters(Trainer))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": key + "-other", "trainer": described}))
    assert trainer_signature._read(path, key) is None
    path.write_text(json.dumps({"key": key, "trainer": described}))
    assert list(trainer_signature._read(path, key).named) == list(parameters(Trainer).named)


@pytest.mark.slow  # a fresh interpreter per shipped recipe: 2-4 s each
def test_every_shipped_recipe_validates_without_lightning_metrics_or_dynamo(tmp_path: Path) -> None:
    # the trainer section from the cached signature; the dry build on meta skips the random fills that would import
    # torch._dynamo; the built-in plugins load torchmetrics and Lightning's callbacks only when a run needs them
    assert _validate(tmp_path).returncode == 0  # the signature cached
    for recipe in RECIPES:
        done = _validate(tmp_path, recipe=recipe)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-2:] == ["NO LIGHTNING", "loaded:"], (recipe, done.stderr)


def test_a_refused_command_keeps_nothing_for_a_later_one(tmp_path: Path, monkeypatch, capsys) -> None:
    from seqkit.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQKIT_CACHE", "refused")  # relative, as a user may set it
    assert main(["validate", "quickstart", "trainer.max_epochs=two"]) == 2
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "kept"))
    monkeypatch.chdir(ROOT)
    assert main(["validate", "quickstart"]) == 0
    assert not (tmp_path / "refused").exists() and not (ROOT / "refused").exists()
    assert len(list((tmp_path / "kept" / "signatures").iterdir())) == 1
