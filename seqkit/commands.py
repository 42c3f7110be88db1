"""The recipe commands: ``seqkit train|eval|predict|validate|ls``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from seqkit.checkpoint_args import ALLOW_DOWNLOAD_HELP, CHECKPOINT_HELP, no_download_unless_allowed
from seqkit.errors import SeqkitError, printable

SPLITS = ("test", "valid")
LISTABLE = ("recipes", "cells", "kernels", "tasks", "datasets", "tokenizers", "callbacks")


def add_commands(commands: Any) -> None:
    train = commands.add_parser("train", help="train a recipe: seqkit train RECIPE [key=value ...]")
    train.add_argument("recipe", help="a recipe file, or a recipe name from `seqkit ls recipes`")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. trainer.max_epochs=3 resume=last")
    train.add_argument(
        "--profile", action="store_true", help="write where the time goes into the run directory (profile: true)"
    )
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on the validation or test split")
    evaluate.add_argument("checkpoint", help=CHECKPOINT_HELP)
    evaluate.add_argument("--split", choices=SPLITS, default="test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--allow-download", action="store_true", help=ALLOW_DOWNLOAD_HELP)
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. data.path=other/folder")
    evaluate.set_defaults(handler=_eval)

    validate = commands.add_parser("validate", help="check a recipe without running it")
    validate.add_argument("recipe")
    validate.add_argument("overrides", nargs="*", metavar="key=value")
    validate.set_defaults(handler=_validate)

    ls = commands.add_parser(
        "ls", help="list recipes and registered cells, kernels, tasks, datasets, tokenizers, callbacks"
    )
    ls.add_argument("what", nargs="?", choices=LISTABLE, help="one list only")
    ls.set_defaults(handler=_ls)


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


def _eval(args: argparse.Namespace) -> int:
    from seqkit.run.checkpoint import load
    from seqkit.run.runs import find_checkpoint

    with no_download_unless_allowed(args):
        parts = load(find_checkpoint(args.checkpoint), args.overrides, splits=(args.split,))
    trainer = _eval_trainer(parts.recipe.data.get("trainer") or {}, args.checkpoint, args.overrides)
    if not parts.data.examples[args.split]:
        raise SeqkitError(f"the {args.split} split is empty; check data.split or data.path")
    loader = parts.data.loader(args.split)
    results = (trainer.validate if args.split == "valid" else trainer.test)(
        parts.module, dataloaders=loader, verbose=False
    )
    metrics = {k: round(float(v), 6) for k, v in sorted((results[0] if results else {}).items())}
    lines = None if args.json else parts.task.format_metrics(dict(metrics))
    if args.json:
        print(json.dumps(metrics), file=args.stdout)
    elif lines is not None:
        for line in lines:  # the task's own layout (a per-class table), escaped as every printed line
            print(printable(line))
    else:
        for name, value in metrics.items():
            print(f"{name}: {value:.4f}")
    return 0


def _eval_trainer(section: dict[str, Any], checkpoint: str, overrides: list[str]) -> Any:
    """A Trainer on one device of the recipe's accelerator. An accelerator this machine lacks is refused when the
    command line asks for it; when only the checkpoint's recipe names it, evaluation runs on what this machine
    has instead, saying so on stderr."""
    import pytorch_lightning as pl

    from seqkit.environment import check_trainer, trainer_refusals
    from seqkit.run.trainer_notes import modern_precision, precision_fallback_noted

    used = {key: section[key] for key in ("accelerator", "precision") if key in section}
    asked = any(item.partition("=")[0].strip() in ("trainer", "trainer.accelerator") for item in overrides)
    try:
        check_trainer(used)  # evaluation runs on one device: the recipe's devices and strategy do not apply
    except SeqkitError:
        if asked or used.get("accelerator") in (None, "auto", "cpu"):
            raise
        print(
            f"seqkit eval: {checkpoint} was trained with trainer.accelerator={used['accelerator']}, which this "
            "machine lacks; evaluating on what it has (override trainer.accelerator=... to choose)",
            file=sys.stderr,
        )
        used = {}
    notes: list[str] = []
    with trainer_refusals(used), precision_fallback_noted(used, notes):
        trainer = pl.Trainer(
            accelerator=used.get("accelerator", "auto"),
            devices=1,
            precision=modern_precision(used.get("precision")),
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    for note in notes:
        print(f"seqkit eval: note: {note}", file=sys.stderr)
    return trainer


def _validate(args: argparse.Namespace) -> int:
    from seqkit.plugin.manager import get_plugin_manager
    from seqkit.recipe.load import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)  # YAML, overrides and interpolation: no torch needed yet
    from seqkit.recipe.validate import validate  # reads the builders' signatures: imports torch and Lightning

    validate(recipe, get_plugin_manager())
    r = recipe.data
    print(f"{recipe.path}: ok — {r['task']['kind']} on {r['data']['kind']} with {r['model']['cell']['kind']}")
    return 0


def _ls(args: argparse.Namespace) -> int:
    from seqkit.plugin.manager import get_plugin_manager
    from seqkit.recipe.load import list_recipes
    from seqkit.rnn.kernels import GENERIC, REFERENCE

    manager = get_plugin_manager()
    for what in [args.what] if args.what else LISTABLE:
        print(f"{what}:")
        if what == "recipes":
            rows = [(name, str(path)) for name, path in list_recipes().items()]
        elif what == "kernels":
            rows = [(f"{k.cell}/{k.name}", f"priority {k.priority}; {k.description}") for k in manager.kernels]
            # seqkit's own two run every cell and are not registered by a plugin, but `backend:` can name them
            rows += [(k.name, f"priority {k.priority}; {k.description}") for k in (GENERIC, REFERENCE)]
        else:
            rows = [(spec.name, spec.description) for spec in getattr(manager, what)]
        width = max((len(name) for name, _ in rows), default=0)
        for name, text in rows:
            print(f"  {printable(name).ljust(width)}  {printable(text)}")
        if not rows:
            print("  (none)")
    return 0
