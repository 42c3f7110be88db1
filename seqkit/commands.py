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

from seqkit.errors import SeqkitError, printable

SPLITS = ("test", "valid")
PREDICT_CHUNK = 256  # texts predicted at once
ALLOW_DOWNLOAD_HELP = "let the checkpoint's recipe download its data (a checkpoint from elsewhere names any URL)"
CHECKPOINT_HELP = "a checkpoint file, a run directory (its best.ckpt) or a recipe name (runs/NAME/latest/best.ckpt)"
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

    predict = commands.add_parser("predict", help="run a checkpoint on texts")
    predict.add_argument("checkpoint", help=CHECKPOINT_HELP)
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--input", metavar="FILE", help="one text a line; - reads standard input")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--allow-download", action="store_true", help=ALLOW_DOWNLOAD_HELP)
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

    overrides = [*args.overrides, "profile=true"] if args.profile else args.overrides
    run_dir, metrics = train(load_recipe(args.recipe, overrides))
    if not is_rank_zero():
        return 0
    print(f"run directory: {run_dir}")
    for name, value in sorted(metrics.items()):
        print(f"{name}: {value:.4f}")
    return 0


def _no_download_unless_allowed(args: argparse.Namespace) -> Any:
    """A checkpoint's recipe may name any URL: it is fetched only with ``--allow-download``."""
    import contextlib

    from seqkit.download import downloads_forbidden

    if args.allow_download:
        return contextlib.nullcontext()
    return downloads_forbidden(f"{args.checkpoint}'s recipe asks for it; pass --allow-download to let it download")


def _eval(args: argparse.Namespace) -> int:
    from seqkit.checkpoint import load
    from seqkit.runs import find_checkpoint

    with _no_download_unless_allowed(args):
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
    from seqkit.trainer_notes import modern_precision, precision_fallback_noted

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


def _predict(args: argparse.Namespace) -> int:
    from seqkit.checkpoint import load
    from seqkit.runs import find_checkpoint

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
        with _no_download_unless_allowed(args):
            parts = load(find_checkpoint(args.checkpoint))
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
                lines = None if args.json else parts.task.format_prediction(result)
                if args.json:
                    print(json.dumps(result, ensure_ascii=False), file=args.stdout)
                elif lines is not None:
                    for line in lines:  # the task's own layout; its text comes from input and checkpoint: escaped
                        print(printable(line))
                else:
                    # labels and generated text come from the checkpoint: escaped, they cannot forge lines
                    shown = [printable(v) for k, v in result.items() if k not in ("text", "n_best")]
                    print("\t".join(shown) + "\t" + result.get("text", ""))
                    for other in result.get("n_best", [])[1:]:
                        print(f"  {printable(other['output'])}\t{other['score']}")
                count += 1
            (args.stdout if args.json else sys.stdout).flush()
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
        if sys.stdin is None or sys.stdin.closed:
            raise SeqkitError("--input -: standard input is closed; give a file or pipe texts in")
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
    from seqkit.plugins import get_plugin_manager
    from seqkit.recipes import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)  # YAML, overrides and interpolation: no torch needed yet
    from seqkit.config import validate  # reads the builders' signatures: imports torch and Lightning

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
            print(f"  {printable(name).ljust(width)}  {printable(text)}")
        if not rows:
            print("  (none)")
    return 0
