"""``seqkit validate RECIPE [key=value ...]``: every problem of a recipe, without running it."""

from __future__ import annotations

import argparse
from typing import Any


def add_validate(commands: Any) -> None:
    validate = commands.add_parser("validate", help="check a recipe without running it")
    validate.add_argument("recipe")
    validate.add_argument("overrides", nargs="*", metavar="key=value")
    validate.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from seqkit.plugin.manager import get_plugin_manager
    from seqkit.recipe.load import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)  # YAML, overrides and interpolation: no torch needed yet
    from seqkit.recipe.validate import validate  # reads the builders' signatures: imports torch and Lightning

    validate(recipe, get_plugin_manager())
    r = recipe.data
    print(f"{recipe.path}: ok — {r['task']['kind']} on {r['data']['kind']} with {r['model']['cell']['kind']}")
    return 0
