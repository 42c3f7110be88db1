"""``data.split.seed``: one validation and test set across runs whose own seeds differ."""

from __future__ import annotations

import pytest

from seqkit.plugin.manager import get_plugin_manager
from seqkit.recipe.load import load_recipe
from seqkit.run.build import build
from tests.recipe_helpers import TINY, cli


def held_out(*overrides: str) -> tuple[list, list]:
    """The encoded validation and test examples of the tiny quickstart with *overrides*."""
    recipe = load_recipe("quickstart", [*TINY, *overrides])
    examples = build(recipe, get_plugin_manager(), splits=("train", "valid", "test")).data.examples
    return examples["valid"], examples["test"]


def test_runs_with_one_split_seed_share_their_held_out_sets_whatever_their_seed():
    fixed = [held_out(f"seed={seed}", "data.split.seed=7") for seed in (1, 2)]
    assert fixed[0] == fixed[1] and fixed[0][1]
    assert held_out("seed=1") != held_out("seed=2")  # without it, each seed draws its own split
    assert held_out("seed=7") == fixed[0]  # the split seed is the seed the run would otherwise have used
    assert held_out("seed=1", "data.split.seed=8") != fixed[0]


@pytest.mark.parametrize("value", ["-1", "true", "0.5", "abc"])
def test_a_split_seed_must_be_a_whole_number(capsys, value):
    code, _, err = cli(capsys, "validate", "quickstart", f"data.split.seed={value}")
    assert code == 2 and "data.split.seed" in err and len(err.strip().splitlines()) == 1, err
