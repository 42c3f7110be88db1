"""Governance: a recipe's ``requires``, checkpoints' plugin versions, ``SEQKIT_TRACE_PLUGINS``, plugins' recipes."""

from __future__ import annotations

import logging
import re
import sys
import textwrap

import pytest
import torch

import seqkit
from seqkit.recipes import find_recipe, list_recipes
from tests.recipe_helpers import cli, quickstart, train_tiny, write_recipe


@pytest.mark.parametrize(
    "requires,message",
    [
        (
            ["seqkit-nowhere>=0.1"],
            r"requires.0: the recipe requires seqkit-nowhere>=0.1, which is not installed; "
            r"install it with: pip install 'seqkit-nowhere>=0.1'",
        ),
        (
            ["pluggy<0.1"],
            r"requires.0: the recipe requires pluggy<0.1, but pluggy [\d.]+ is installed; "
            r"install a matching version with: pip install 'pluggy<0.1'",
        ),
        (["pluggy>=1", "not a requirement!"], r"requires.1: not a valid requirement 'not a requirement!'"),
        ("pluggy", r"requires: expected a list of requirements"),
    ],
)
def test_unmet_requires_stop_the_recipe_with_the_install_command(capsys, tmp_path, requires, message):
    recipe = write_recipe(tmp_path / "r.yaml", {**quickstart(), "requires": requires})
    for command in ("validate", "train"):
        code, _, err = cli(capsys, command, recipe, f"run_dir={tmp_path / 'run'}")
        assert code == 2
        assert f"{recipe}:" in err
        assert len(re.findall(message, err)) == 1, err
    assert not (tmp_path / "run").exists()


def test_met_requires_pass(capsys, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", {**quickstart(), "requires": ["pluggy>=1", "seqkit>=0.1"]})
    code, _out, err = cli(capsys, "validate", recipe)
    assert code == 0, err


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("gov")) / "best.ckpt"


def _edited(checkpoint, tmp_path, edit):
    saved = torch.load(checkpoint, weights_only=True)
    for plugin in saved["seqkit"]["plugins"]:
        if plugin["name"] == "sentiment":
            edit(plugin)
    path = tmp_path / "edited.ckpt"
    torch.save(saved, path)
    return path


def test_checkpoints_record_plugin_distributions_and_versions(checkpoint):
    plugins = {p["name"]: p for p in torch.load(checkpoint, weights_only=True)["seqkit"]["plugins"]}
    assert plugins["sentiment"]["distribution"] == "seqkit"
    assert plugins["sentiment"]["version"] == seqkit.__version__


def test_another_plugin_version_warns_at_load(checkpoint, tmp_path, capsys, caplog):
    path = _edited(checkpoint, tmp_path, lambda p: p.update(version="0.0.1"))
    with caplog.at_level(logging.WARNING):
        code, _out, err = cli(capsys, "predict", path, "not bad")
    assert code == 0, err
    assert "trained with plugin sentiment from seqkit 0.0.1; installed now: seqkit 0.1.0" in caplog.text


def test_a_missing_plugin_the_recipe_needs_is_an_error_with_the_install_command(checkpoint, tmp_path, capsys):
    path = _edited(checkpoint, tmp_path, lambda p: p.update(name="sentiment_pkg", distribution="seqkit-sentiment"))
    code, _, err = cli(capsys, "predict", path, "not bad")
    assert code == 2
    assert (
        f"{path} needs plugin 'sentiment_pkg' (distribution seqkit-sentiment 0.1.0), which provides its "
        "dataset 'synthetic_sentiment', task 'sentiment'; install it with: pip install 'seqkit-sentiment==0.1.0'"
    ) in err


def test_an_installed_but_disabled_plugin_is_not_called_missing(checkpoint, capsys, monkeypatch):
    monkeypatch.setenv("SEQKIT_DISABLE_PLUGINS", "sentiment")
    seqkit.set_plugin_manager(None)
    code, _, err = cli(capsys, "predict", checkpoint, "not bad")
    assert code == 2 and "installed but not loaded: SEQKIT_DISABLE_PLUGINS" in err and "pip install" not in err, err


def test_a_missing_plugin_the_recipe_does_not_use_only_warns(checkpoint, tmp_path, capsys, caplog):
    path = _edited(checkpoint, tmp_path, lambda p: p.update(name="gone", registers={"tasks": ["other"]}))
    with caplog.at_level(logging.WARNING):
        code, _, err = cli(capsys, "predict", path, "not bad")
    assert code == 0, err
    assert "was trained with plugin gone" in caplog.text


def test_trace_plugins_logs_every_hook_call(capsys):
    seqkit.PluginManager(environ={"SEQKIT_TRACE_PLUGINS": "1"})
    err = capsys.readouterr().err
    assert "seqkit trace: register_cells → plugin 'gru' (seqkit_gru.register_cells)" in err
    assert "seqkit trace: register_tasks ← plugin 'sentiment' registered ['sentiment']" in err
    seqkit.PluginManager(environ={})
    assert "seqkit trace" not in capsys.readouterr().err


def test_a_plugin_ships_recipes_listed_and_found_by_name(tmp_path, monkeypatch, capsys):
    package = tmp_path / "seqkit_demo"
    (package / "recipes").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "recipes" / "tiny.yaml").write_text(textwrap.dedent("seed: 1\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    import seqkit_demo

    seqkit.set_plugin_manager(seqkit.PluginManager([("demo", seqkit_demo)]))
    assert list_recipes()["demo/tiny"] == package / "recipes" / "tiny.yaml"
    assert find_recipe("demo/tiny") == (package / "recipes" / "tiny.yaml", "demo/tiny")
    _code, out, _ = cli(capsys, "ls", "recipes")
    assert "demo/tiny" in out
    sys.modules.pop("seqkit_demo")
