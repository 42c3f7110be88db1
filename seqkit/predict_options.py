"""A task's own ``predict`` options: declared on the task, offered by ``seqkit predict`` and ``seqkit serve``.

The core knows no task's options by name. A task lists them in ``Task.predict_options``; ``seqkit predict`` adds
one ``--flag`` per option of every registered task (so ``seqkit predict --help`` shows them, each with the tasks
that take it) and passes those given to the loaded task's ``predict`` as keyword arguments; ``seqkit serve``
lets a request set those marked ``per_request``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from seqkit.plugin.lazy import resolved


@dataclass(frozen=True)
class PredictOption:
    """One keyword argument of a task's ``predict``: ``name`` (``--name-with-dashes`` on the command line).

    ``type``: ``int``, ``float`` or ``str``; ``minimum``: the least value of a number; ``per_request``: whether a
    ``seqkit serve`` request may set it (not for an option that writes files); ``first_call_only``: passed to the
    first ``predict`` call of a ``seqkit predict`` run only (an option that writes one file per text, numbered
    within a call, so that the next chunk of texts does not overwrite them).
    """

    name: str
    help: str
    type: type = str
    metavar: str = "VALUE"
    minimum: float | None = None
    per_request: bool = True
    first_call_only: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def expected(self) -> str:
        if self.type is int and self.minimum == 1:
            return "a positive integer"
        kind = {int: "an integer", float: "a number", str: "a string"}.get(self.type, self.type.__name__)
        return kind if self.minimum is None else f"{kind} >= {self.minimum}"

    def check(self, value: Any) -> Any:
        """*value* (JSON data) if it fits, else a ValueError ``expected ..., got ...``."""
        numeric = self.type in (int, float)
        ok = isinstance(value, self.type) and not isinstance(value, bool)
        if self.type is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (numeric and self.minimum is not None and value < self.minimum):
            raise ValueError(f"expected {self.expected}, got {value!r}")
        return value

    def parse(self, text: str) -> Any:
        """A command-line value: converted to ``type`` and checked (argparse's ``type=``)."""
        try:
            value = self.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {self.expected}, got {text!r}") from None
        try:
            return self.check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None


def declared(build: Any) -> tuple[PredictOption, ...]:
    """The predict options a task's registered ``build`` declares (a Task class's ``predict_options``)."""
    target = resolved(build)
    return tuple(getattr(target, "predict_options", ())) if isinstance(target, type) else ()


def registered(spec: Any) -> tuple[PredictOption, ...]:
    """The predict options of a registered task *spec*: those its registration gives (importing nothing), else
    its class's (importing the task's module)."""
    given = getattr(spec, "predict_options", None)
    return tuple(given) if given is not None else declared(spec.build)


def every_task_option(specs: Iterable[Any]) -> dict[str, tuple[PredictOption, list[str]]]:
    """``name -> (option, the tasks that take it)`` over registered task *specs*; the first declaration wins."""
    found: dict[str, tuple[PredictOption, list[str]]] = {}
    for spec in specs:
        for option in registered(spec):
            found.setdefault(option.name, (option, []))[1].append(spec.name)
    return found


def add_to(parser: argparse.ArgumentParser, specs: Iterable[Any]) -> None:
    """One ``--flag`` per option of every registered task, its help naming the tasks that take it."""
    group = parser.add_argument_group("task options (each task's own; `seqkit ls tasks` lists the tasks)")
    for name, (option, tasks) in every_task_option(specs).items():
        group.add_argument(
            option.flag, dest=name, type=option.parse, metavar=option.metavar, help=f"{', '.join(tasks)}: {option.help}"
        )
