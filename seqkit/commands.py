"""The recipe commands: ``seqkit train|eval|predict|validate|ls``."""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqkit.errors import SeqkitError

SPLITS = ("test", "valid")
PREDICT_CHUNK = 256  # texts predicted at once
LISTABLE = ("recipes", "cells", "kernels", "tasks", "datasets", "tokenizers", "callbacks")


def add_commands(commands: Any) -> None:
    train = commands.add_parser("train", help="train a recipe: seqkit train RECIPE [key=value ...]")
    train.add_argument("recipe", help="a recipe file, or a recipe name from `seqkit ls recipes`")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. trainer.max_epochs=3 resume=last")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on the validation or test split")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--split", choices=SPLITS, default="test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. data.path=other/folder")
    evaluate.set_defaults(handler=_eval)

    predict = commands.add_parser("predict", help="run a checkpoint on texts")
    predict.add_argument("checkpoint")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--input", metavar="FILE", help="one text a line; - reads standard input")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--beam-size", type=_positive, metavar="K", help="generation tasks: beam width (1: greedy)")
    predict.add_argument("--n-best", type=_positive, metavar="N", help="generation tasks: return the N best outputs")
    predict.add_argument(
        "--attention-plot", metavar="OUT.png", help="generation tasks: draw the source–target attention"
    )
    predict.set_defaults(handler=_predict)

    validate = commands.add_parser("validate", help="check a recipe without running it")
    validate.add_argument("recipe")
    validate.add_argument("overrides", nargs="*", metavar="key=value")
    validate.set_defaults(handler=_validate)

    ls = commands.add_parser(
        "ls", help="list recipes and registered cells, kernels, tasks, datasets, tokenizers, callbacks"
    )
    ls.add_argument("what", nargs="?", choices=LISTABLE, help="one list only")
    ls.set_defaults(handler=_ls)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _train(args: argparse.Namespace) -> int:
    from seqkit.distributed import is_rank_zero
    from seqkit.recipes import load_recipe
    from seqkit.train import train

    run_dir, metrics = train(load_recipe(args.recipe, args.overrides))
    if not is_rank_zero():
        return 0
    print(f"run directory: {run_dir}")
    for name, value in sorted(metrics.items()):
        print(f"{name}: {value:.4f}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import pytorch_lightning as pl

    from seqkit.checkpoint import load

    parts = load(args.checkpoint, args.overrides, splits=(args.split,))
    trainer_section = parts.recipe.data.get("trainer") or {}
    trainer = pl.Trainer(
        accelerator=trainer_section.get("accelerator", "auto"),
        devices=1,
        precision=trainer_section.get("precision"),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    if not parts.data.examples[args.split]:
        raise SeqkitError(f"the {args.split} split is empty; check data.split or data.path")
    loader = parts.data.loader(args.split)
    results = (trainer.validate if args.split == "valid" else trainer.test)(
        parts.module, dataloaders=loader, verbose=False
    )
    metrics = {k: round(float(v), 6) for k, v in sorted((results[0] if results else {}).items())}
    if args.json:
        print(json.dumps(metrics))
    else:
        for name, value in metrics.items():
            print(f"{name}: {value:.4f}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from seqkit.checkpoint import load

    if not args.texts and not args.input:
        raise SeqkitError("nothing to predict: give texts as arguments or --input FILE")
    # Generation options reach the task's predict as keyword arguments, only when given.
    options = {
        name: value
        for name, value in (
            ("beam_size", args.beam_size),
            ("n_best", args.n_best),
            ("attention_plot", args.attention_plot),
        )
        if value is not None
    }
    stream = _open_input(args.input) if args.input else None
    try:
        parts = load(args.checkpoint)
        accepted = inspect.signature(parts.task.predict).parameters
        refused = [name for name in options if name not in accepted]
        if refused:
            flags = ", ".join("--" + name.replace("_", "-") for name in refused)
            raise SeqkitError(f"{flags}: task '{parts.recipe.data['task']['kind']}' does not generate text")
        count = 0
        texts = itertools.chain(args.texts, _read_texts(stream, args.input) if stream else ())
        # Streamed a chunk at a time: memory stays flat however long the input.
        while chunk := list(itertools.islice(texts, PREDICT_CHUNK)):
            for result in parts.task.predict(parts.module.model, chunk, parts.tokenizer, **options):
                if args.json:
                    print(json.dumps(result, ensure_ascii=False))
                else:
                    shown = [str(v) for k, v in result.items() if k not in ("text", "n_best")]
                    print("\t".join(shown) + "\t" + result.get("text", ""))
                    for other in result.get("n_best", [])[1:]:
                        print(f"  {other['output']}\t{other['score']}")
                count += 1
            sys.stdout.flush()
            # one plot per text, numbered within a call: only the first chunk's, so none overwrites another
            options.pop("attention_plot", None)
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    if not count:
        raise SeqkitError(f"nothing to predict: --input {args.input} holds no non-blank line")
    return 0


def _open_input(path: str) -> Any:
    if path == "-":
        return sys.stdin.buffer
    if Path(path).is_dir():
        raise SeqkitError(f"--input {path}: expected a file of texts, found a directory")
    try:
        return open(path, "rb")
    except OSError as error:
        raise SeqkitError(f"--input {path}: {error.strerror}") from None


def _read_texts(stream: Any, path: str) -> Iterator[str]:
    """Non-blank lines of *stream* (``-``: standard input), without line endings, one at a time."""
    from seqkit.data import decoded_lines

    name = "<stdin>" if path == "-" else path
    for _, line in decoded_lines(stream, name):
        if line.strip():
            yield line


def _validate(args: argparse.Namespace) -> int:
    from seqkit.config import validate
    from seqkit.plugins import get_plugin_manager
    from seqkit.recipes import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    validate(recipe, get_plugin_manager())
    r = recipe.data
    print(f"{recipe.path}: ok — {r['task']['kind']} on {r['data']['kind']} with {r['model']['cell']['kind']}")
    return 0


def _ls(args: argparse.Namespace) -> int:
    from seqkit.kernels import GENERIC, REFERENCE
    from seqkit.plugins import get_plugin_manager
    from seqkit.recipes import list_recipes

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
            print(f"  {name.ljust(width)}  {text}")
        if not rows:
            print("  (none)")
    return 0
