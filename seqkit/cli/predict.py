"""``seqkit predict CHECKPOINT [TEXT ...]``: a checkpoint's task predicts, with the task's own options as flags."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqkit.cli.checkpoint_args import ALLOW_DOWNLOAD_HELP, CHECKPOINT_HELP, no_download_unless_allowed
from seqkit.errors import SeqkitError, printable

PREDICT_CHUNK = 256  # texts predicted at once


def add_predict_command(commands: Any, *, with_task_options: bool = False) -> argparse.ArgumentParser:
    """The ``predict`` parser; *with_task_options* adds every registered task's own flags (loading the plugins)."""
    predict = commands.add_parser("predict", help="run a checkpoint on texts")
    predict.add_argument("checkpoint", help=CHECKPOINT_HELP)
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--input", metavar="FILE", help="one text a line; - reads standard input")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--allow-download", action="store_true", help=ALLOW_DOWNLOAD_HELP)
    names: list[str] = []
    if with_task_options:
        from seqkit.plugin.manager import get_plugin_manager
        from seqkit.predict_options import add_to, every_task_option

        # loading plugins runs their code before --json guards stdout: whatever they print goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            try:
                tasks = list(get_plugin_manager().tasks)
                names = list(every_task_option(tasks))  # imports each task's module
            except SeqkitError:  # a broken plugin: the command itself reports it, --help still works
                tasks, names = [], []
            add_to(predict, tasks)
    predict.set_defaults(handler=_predict, task_options=names)
    return predict


def _predict(args: argparse.Namespace) -> int:
    from seqkit.predict_options import declared
    from seqkit.run.checkpoint import load
    from seqkit.run.runs import find_checkpoint

    if not args.texts and not args.input:
        raise SeqkitError("nothing to predict: give texts as arguments or --input FILE")
    # A task's own options reach its predict as keyword arguments, only when given.
    options = {name: getattr(args, name) for name in args.task_options if getattr(args, name, None) is not None}
    stream = _open_input(args.input) if args.input else None
    try:
        with no_download_unless_allowed(args):
            parts = load(find_checkpoint(args.checkpoint))
        kind = parts.recipe.data["task"]["kind"]
        own = {option.name: option for option in declared(type(parts.task))}
        refused = [name for name in options if name not in own]
        if refused:
            flags = ", ".join("--" + name.replace("_", "-") for name in refused)
            takes = ", ".join(option.flag for option in own.values()) or "none"
            raise SeqkitError(f"{flags}: task '{kind}' does not take it (its own options: {takes})")
        count = 0
        texts = itertools.chain(args.texts, _read_texts(stream, args.input) if stream else ())
        # Streamed a chunk at a time: memory stays flat however long the input.
        while chunk := list(itertools.islice(texts, PREDICT_CHUNK)):
            for result in parts.task.predict(parts.module.model, chunk, parts.tokenizer, **options):
                _print(result, args, parts.task)
                count += 1
            (args.stdout if args.json else sys.stdout).flush()
            options = {name: value for name, value in options.items() if not own[name].first_call_only}
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    if not count:
        raise SeqkitError(f"nothing to predict: --input {args.input} holds no non-blank line")
    return 0


def _print(result: dict[str, Any], args: argparse.Namespace, task: Any) -> None:
    lines = None if args.json else task.format_prediction(result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False), file=args.stdout)
    elif lines is not None:
        for line in lines:  # the task's own layout; its text comes from input and checkpoint: escaped
            print("\t".join(map(printable, line)) if isinstance(line, tuple) else printable(line))
    else:
        # labels come from the checkpoint: escaped, they cannot forge lines; the input text last, as given
        shown = [printable(v) for k, v in result.items() if k != "text"]
        print("\t".join(shown) + "\t" + result.get("text", ""))


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
