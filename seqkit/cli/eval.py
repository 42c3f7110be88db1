"""``seqkit eval CHECKPOINT``: a checkpoint evaluated on its validation or test split, on one device."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from seqkit.cli.checkpoint_args import ALLOW_DOWNLOAD_HELP, CHECKPOINT_HELP, no_download_unless_allowed
from seqkit.errors import SeqkitError, printable

SPLITS = ("test", "valid")


def add_eval(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on the validation or test split")
    evaluate.add_argument("checkpoint", help=CHECKPOINT_HELP)
    evaluate.add_argument("--split", choices=SPLITS, default="test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--allow-download", action="store_true", help=ALLOW_DOWNLOAD_HELP)
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. data.path=other/folder")
    evaluate.set_defaults(handler=_eval)


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
    from seqkit.environment import check_trainer
    from seqkit.run.trainer_factory import new_trainer

    used = {key: section[key] for key in ("accelerator", "precision") if key in section}
    for key, value in used.items():  # a tampered recipe's list or mapping would reach Lightning unchecked
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise SeqkitError(
                f"{checkpoint}: its recipe's trainer.{key} is a {type(value).__name__}; expected a name such as "
                f"{'cpu' if key == 'accelerator' else '32-true'!r}"
            )
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
    trainer = new_trainer(
        used,
        notes,
        accelerator=used.get("accelerator", "auto"),
        devices=1,
        precision=used.get("precision"),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    for note in notes:
        print(f"seqkit eval: note: {note}", file=sys.stderr)
    return trainer
