"""The ``seqkit`` command line: one subcommand per job; user errors print one line and exit 2."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from seqkit.bench.args import add_arguments
from seqkit.cli.data import add_data_command
from seqkit.cli.eval import add_eval
from seqkit.cli.ls import add_ls
from seqkit.cli.plugins import add_plugins
from seqkit.cli.predict import add_predict_command
from seqkit.cli.train import add_train
from seqkit.cli.validate import add_validate
from seqkit.errors import SeqkitError, message_of, printable
from seqkit.export.command import add_export_command
from seqkit.json_stdout import stdout_for_json_alone
from seqkit.serve.command import add_serve_command

EXIT_USAGE = 2
EXIT_INTERNAL = 1
JSON_GUARDED = ("eval", "predict", "plugins", "data", "bench")  # commands that print their --json to args.stdout
EXIT_BROKEN_PIPE = 141  # as a shell reports a command ended by SIGPIPE (`seqkit predict ... | head -1`)
COMPUTING = (
    "train",
    "eval",
    "predict",
    "bench",
    "export",
    "serve",
)  # the commands that run torch: they get the thread policy


def _bench(args: argparse.Namespace) -> int:
    if args.cell == "cells":  # every registered cell at once
        from seqkit.bench.cells import main as bench_cells

        return bench_cells(args)
    from seqkit.bench.layer import main as bench_layer

    return bench_layer(args)


class _Versions(argparse.Action):
    """``--version``: read from the installed distributions' metadata, importing neither Lightning nor a plugin."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from seqkit.versions import version_lines

        print("\n".join(version_lines()))
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; for *command* ``predict``, with every registered task's own predict options."""
    parser = argparse.ArgumentParser(prog="seqkit", description="Plugin-based recurrent sequence modelling.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages (kernel choices, plugins)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of any error")
    parser.add_argument(
        "--version", action=_Versions, nargs=0, help="print the versions of seqkit, torch, Lightning and every plugin"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_plugins(commands)
    add_train(commands)
    add_eval(commands)
    add_predict_command(commands, with_task_options=command == "predict")  # only predict loads the plugins
    add_validate(commands)
    add_ls(commands)
    add_data_command(commands)
    add_export_command(commands)
    add_serve_command(commands)

    bench = commands.add_parser("bench", help="time a recurrent layer against torch.nn (forward+backward)")
    add_arguments(bench)
    bench.set_defaults(handler=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from seqkit.threads import apply_environment

    try:  # first of all: OpenMP reads its wait policy once, when torch loads it
        apply_environment()
    except SeqkitError as error:
        print(f"seqkit: error: {printable(error)}", file=sys.stderr)
        return EXIT_USAGE
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    # After `--` everything is a text or override, even when it starts with "-".
    tail = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args, extra = parser.parse_known_args(argv)
    # Texts and key=value overrides may follow options (`predict CKPT --json "text"`); argparse alone stops at them.
    bucket = "texts" if hasattr(args, "texts") else "overrides" if hasattr(args, "overrides") else None
    if extra and (bucket is None or any(item.startswith("-") for item in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if tail and bucket is None:
        parser.error(f"unrecognized arguments: -- {' '.join(tail)}")
    if extra or tail:
        setattr(args, bucket, [*getattr(args, bucket), *extra, *tail])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not args.verbose:
        from seqkit.quiet import quiet_known_noise

        quiet_known_noise()
    from seqkit.plugin.manager import blame

    args.stdout = sys.stdout
    guarded = getattr(args, "json", None) in (True, "-") and args.command in JSON_GUARDED  # bench: --json FILE or -
    quiet = stdout_for_json_alone(args) if guarded else contextlib.nullcontext()
    succeeded = False
    try:
        if args.command in COMPUTING:  # inside: a launcher variable or thread count it refuses is a user error
            from seqkit import allocator, launcher_env
            from seqkit.threads import apply_torch

            launcher_env.check()  # before Lightning is imported: it reads RANK and LOCAL_RANK with a bare int()
            allocator.apply()  # before torch allocates: the blocks it frees from then on stay for reuse
            apply_torch()
        with quiet:
            status = args.handler(args)
        succeeded = status in (0, None)
        return status
    except SeqkitError as error:
        if args.debug:
            raise
        print(f"seqkit {args.command}: error: {_shown(error)}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_USAGE)
    except _loaded("seqkit.run.resilience", "TrainingStopped") as stopped:
        print(f"seqkit {args.command}: {stopped}", file=sys.stderr)
        return stopped.exit_code
    except KeyboardInterrupt as interrupt:
        if args.debug:
            raise
        where = f" {printable(interrupt)}" if str(interrupt) else ""
        print(f"seqkit {args.command}: interrupted{where}", file=sys.stderr)
        return 130
    except _loaded("pytorch_lightning.utilities.exceptions", "SIGTERMException"):
        # Lightning's own handler, active outside seqkit's training loop (sanity check, validate, test), exits
        # with status 0; a terminated command must not look like a finished one.
        print(f"seqkit {args.command}: terminated (SIGTERM)", file=sys.stderr)
        from seqkit.run.resilience import EXIT_SIGTERM

        return EXIT_SIGTERM
    except SystemExit as stop:  # plugin code (or a library) ending the process must not pass for success
        if args.debug:
            raise
        culprit = blame(stop.__traceback__)
        who = culprit or "code seqkit called"
        print(
            f"seqkit {args.command}: error: {who} called sys.exit({printable(repr(stop.code))}); "
            "it must raise an error instead" + ("" if culprit else " (run `seqkit --debug ...` to see where)"),
            file=sys.stderr,
        )
        return EXIT_USAGE if culprit else EXIT_INTERNAL
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly, and keep Python from failing to flush at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as error:  # the machine's refusal (disk full, permissions, a name too long): not a bug
        if args.debug or error.errno is None:
            raise
        where = f": {printable(error.filename)}" if error.filename else ""
        print(f"seqkit {args.command}: error: {printable(error.strerror)}{where}", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as error:  # a bug, not a user error (or a plugin's GeneratorExit): one line
        if args.debug:
            raise
        culprit = blame(error.__traceback__, third_party=True)
        kind = printable(type(error).__name__)
        if culprit:
            print(f"seqkit {args.command}: error: {culprit} failed: {kind}: {message_of(error)[:500]}", file=sys.stderr)
            return EXIT_USAGE
        print(
            f"seqkit {args.command}: internal error: {kind}: {message_of(error)[:500]} "
            "(run `seqkit --debug ...` for the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        _keep_caches(succeeded)


def _keep_caches(succeeded: bool) -> None:
    """What a command read and may keep for the next one (the Trainer's arguments): written once it succeeded, else
    dropped, so that a command that refused its input leaves no file behind."""
    signature = sys.modules.get("seqkit.recipe.trainer_signature")
    if signature is not None:
        signature.keep(succeeded)


def _loaded(module: str, name: str) -> type[BaseException] | tuple[()]:
    """The exception class *name* of *module* if the command imported that module, else ``()`` (catches nothing):
    a command that never loaded Lightning cannot have raised its exceptions, and `--help` must not load it."""
    found = sys.modules.get(module)
    return getattr(found, name) if found is not None else ()


def _shown(error: SeqkitError) -> str:
    """The message, its control characters escaped; a recipe's several problems keep one line each."""
    from seqkit.recipe.load import RecipeError

    if isinstance(error, RecipeError) and len(error.problems) > 1:
        return "\n  ".join([f"{len(error.problems)} problems in the recipe:", *map(printable, error.problems)])
    return printable(error)
