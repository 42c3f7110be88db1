"""seqkit's documented budget of 20,000 keys and items is the recipe limit that fires (not OmegaConf's own 10,000-node
YAML limit with its advice), for a recipe file, YAML aliases and a command-line override, on both sides of it.

The quick tests shrink both limits (seqkit's budget to 1,000, OmegaConf's to 500 through its environment variable),
keeping OmegaConf's the lower as it is by default; the slow one uses the real ones (OmegaConf takes seconds to build
a 20,000-node recipe)."""

from __future__ import annotations

import pytest
import yaml

import seqkit.recipe_guard
from tests.recipe_helpers import cli, quickstart

BUDGET = 1_000


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(seqkit.recipe_guard, "MAX_NODES", BUDGET)
    monkeypatch.setenv("OMEGACONF_MAX_YAML_EXPANDED_NODES", str(BUDGET // 2))


def _count(node) -> int:
    """Keys and items as the budget counts them: every container and value once (keys are not counted)."""
    if isinstance(node, dict):
        return 1 + sum(_count(v) for v in node.values())
    if isinstance(node, list):
        return 1 + sum(_count(v) for v in node)
    return 1


def _padded(total: int) -> dict:
    """The quickstart recipe with a list under data.notes making *total* keys and items in all."""
    recipe = quickstart()
    recipe["data"]["notes"] = []
    recipe["data"]["notes"] = [0] * (total - _count(recipe))
    assert _count(recipe) == total
    return recipe


def _check(code: int, err: str, refused: bool, budget: int) -> None:
    assert code == 2 and "expansion" not in err and "OMEGACONF" not in err and "omegaconf" not in err, err
    assert (f"more than {budget:,} keys and items" in err) == refused, err


@pytest.mark.parametrize("total", [BUDGET, BUDGET + 1])
def test_a_recipe_file_at_and_past_the_budget(tmp_path, capsys, small, total):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_padded(total)))
    code, _, err = cli(capsys, "validate", path)
    _check(code, err, total > BUDGET, BUDGET)
    assert str(path) in err.splitlines()[0]


@pytest.mark.parametrize("size", [BUDGET // 2 - 50, BUDGET // 2 + 50])
def test_aliases_are_counted_each_time_against_the_same_budget(tmp_path, capsys, small, size):
    text = yaml.safe_dump(quickstart()) + "extra:\n  a: &x [" + ", ".join(["0"] * size) + "]\n  b: *x\n"
    (tmp_path / "r.yaml").write_text(text)
    code, _, err = cli(capsys, "validate", tmp_path / "r.yaml")
    _check(code, err, 2 * size > BUDGET, BUDGET)


@pytest.mark.parametrize("size", [BUDGET - 100, BUDGET + 100])
def test_an_override_at_and_past_the_budget(capsys, small, size):
    code, _, err = cli(capsys, "validate", "quickstart", "data.notes=[" + ",".join(["0"] * size) + "]")
    _check(code, err, size > BUDGET, BUDGET)


@pytest.mark.slow  # about 20 s: OmegaConf builds a 20,000-node recipe slowly
def test_the_real_limits_at_and_past_the_budget(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OMEGACONF_MAX_YAML_EXPANDED_NODES", raising=False)
    budget = seqkit.recipe_guard.MAX_NODES
    assert budget == 20_000  # as docs/security.md says
    for total in (budget, budget + 1):
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(_padded(total)))
        code, _, err = cli(capsys, "validate", tmp_path / "r.yaml")
        _check(code, err, total > budget, budget)


def test_aliases_far_more_used_than_written_are_within_the_budget(tmp_path, capsys):
    """OmegaConf refuses aliases expanding a document 100-fold; seqkit counts every use against its budget instead."""
    text = yaml.safe_dump(quickstart()) + "extra:\n  one: &x 0\n  many: [" + ", ".join(["*x"] * 1500) + "]\n"
    (tmp_path / "r.yaml").write_text(text)
    code, _, err = cli(capsys, "validate", tmp_path / "r.yaml")
    _check(code, err, False, seqkit.recipe_guard.MAX_NODES)
    assert "extra" in err  # the recipe was read: what is wrong with it is its unknown section
