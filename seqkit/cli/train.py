"""``seqkit train RECIPE [key=value ...]``: validate the recipe, build the run, train, print the metrics."""

from __future__ import annotations

import argparse
from typing import Any


def add_train(commands: Any) -> None:
    train = commands.add_parser("train", help="train a recipe: seqkit train RECIPE [key=value ...]")
    train.add_argument("recipe", help="a recipe file, or a recipe name from `seqkit ls recipes`")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. trainer.max_epochs=3 resume=last")
    train.add_argument(
        "--profile", action="store_true", help="write where the time goes into the run directory (profile: true)"
    )
    train.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from seqkit.recipe.load import load_recipe
    from seqkit.run.distributed import is_rank_zero
    from seqkit.run.train import train

    overrides = [*args.overrides, "profile=true"] if args.profile else args.overrides
    run_dir, metrics = train(load_recipe(args.recipe, overrides))
    if not is_rank_zero():
        return 0
    print(f"run directory: {run_dir}")
    for name, value in sorted(metrics.items()):
        print(f"{name}: {value:.4f}")
    return 0
