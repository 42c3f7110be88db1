"""Ranges declared in a builder's signature (seqkit.Range, seqkit.Width) are checked with the recipe, by key path."""

from __future__ import annotations

import math
from typing import Annotated

import pytest

import seqkit
from seqkit.typecheck import check_arguments


def build(*, size: seqkit.Width = 8, rate: Annotated[float, seqkit.Range(0, 1, high_open=True)] = 0.0) -> None:
    """A third-party builder: the core knows neither key, only the bounds the signature declares."""


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"size": 0}, "expected in [1, 65,536], got 0"),
        ({"size": 1 << 20}, "expected in [1, 65,536], got 1048576"),
        ({"size": "big"}, "expected an integer, got 'big'"),  # the type first, as before
        ({"rate": 1.0}, "expected in [0, 1), got 1.0"),
        ({"rate": math.nan}, "expected in [0, 1), got nan"),
    ],
)
def test_a_declared_range_is_a_recipe_problem_at_its_key(values, problem):
    assert check_arguments("model", build, values, owner="task") == [(f"model.{next(iter(values))}", problem)]


def test_values_inside_the_range_pass():
    assert check_arguments("model", build, {"size": 65536, "rate": 0.5}, owner="task") == []


def test_the_built_in_tasks_declare_their_embedding_width(capsys):
    from tests.recipe_helpers import cli

    code, _, err = cli(capsys, "validate", "quickstart", "model.embed_dim=0")
    assert code == 2 and "model.embed_dim: expected in [1, 65,536], got 0" in err


def other(
    *, weight: Annotated[float, seqkit.Range(0, 1, low_open=True)] | None = None, rates: list[seqkit.Probability] = ()
):
    """A bound inside ``X | None`` and on a list's items counts too; an open low side excludes the bound."""


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"weight": 0}, "expected in (0, 1], got 0"),
        ({"weight": math.inf}, "expected in (0, 1], got inf"),
        ({"rates": [0.5, 1.0]}, "item 1: expected in [0, 1), got 1.0"),
    ],
)
def test_a_range_inside_a_union_or_on_list_items(values, problem):
    assert check_arguments("model", other, values, owner="task") == [(f"model.{next(iter(values))}", problem)]
    assert check_arguments("model", other, {"weight": None, "rates": [0, -0.0]}, owner="task") == []
