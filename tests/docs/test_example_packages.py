"""The example plugin packages in docs/examples, built and installed into a temporary location, end to end:
listed by `seqkit plugins`, their recipes by `seqkit ls`, trained by name through the CLI, their own tests pass."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, install_packages, seqkit_in

EXAMPLES = ROOT / "docs" / "examples"
PACKAGES = ("seqkit-jordan", "seqkit-tokentags")
FAST = ["trainer.max_epochs=1", "data.batch_size=8"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    env, _ = install_packages(tmp_path_factory, *(EXAMPLES / name for name in PACKAGES))
    return env


def test_both_are_listed_by_seqkit_plugins_and_ls(installed):
    plugins = {p["name"]: p for p in json.loads(seqkit_in(installed, "plugins", "--json").stdout)}
    assert plugins["jordan"] == {
        "name": "jordan",
        "distribution": "seqkit-jordan",
        "version": "0.1.0",
        "registers": {"cells": ["jordan"]},
    }
    assert plugins["tokentags"] == {
        "name": "tokentags",
        "distribution": "seqkit-tokentags",
        "version": "0.1.0",
        "registers": {"tasks": ["token_tags"], "datasets": ["tagged_tsv"]},
    }
    recipes = seqkit_in(installed, "ls", "recipes").stdout
    assert "jordan/tiny" in recipes and "tokentags/tiny" in recipes


@pytest.mark.parametrize("recipe,metric", [("jordan/tiny", "test/accuracy"), ("tokentags/tiny", "test/entity_f1")])
def test_a_tiny_recipe_trains_by_name_through_the_cli(installed, tmp_path, recipe, metric):
    run_dir = tmp_path / "run"
    out = seqkit_in(installed, "train", recipe, f"run_dir={run_dir}", *FAST, cwd=tmp_path).stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics[metric] <= 1 and metric in out
    checkpoint = run_dir / "best.ckpt"
    if recipe == "tokentags/tiny":
        (result,) = [
            json.loads(line)
            for line in seqkit_in(installed, "predict", checkpoint, "--json", "Anna met Tom").stdout.splitlines()
        ]
        assert len(result["tags"]) == 3


def test_the_packages_own_tests_pass(installed, tmp_path):
    """Their tests run seqkit's conformance kit on what they register, as any plugin author's would."""
    tests = [str(EXAMPLES / name / "tests") for name in PACKAGES]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), *tests],
        env=installed,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout
