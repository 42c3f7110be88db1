"""The errors seqkit raises on purpose, each with a message fit to show a user as it is."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SeqkitError(Exception):
    """Base of every user-facing seqkit error; the CLI prints the message alone and exits with status 2."""


class PluginError(SeqkitError):
    """A plugin failed to import, implemented an unknown hook, or registered something invalid."""


class UnknownNameError(SeqkitError, LookupError):
    """A registry was asked for a name nobody registered."""


class KernelUnavailableError(SeqkitError, RuntimeError):
    """An explicitly requested backend cannot run the layer's configuration."""


class InvalidArgumentError(SeqkitError, ValueError):
    """An argument has the wrong type, shape or value."""


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidates to *name*, or an empty string."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message to one line, so each error stays a single line."""
    return " ".join(str(text).split())


def message_of(error: BaseException) -> str:
    """*error*'s message on one line, escaped; a message that cannot be computed (a ``__str__`` that raises) is said
    to be so, for the error being reported must never be lost to a second one."""
    try:
        text = str(error)
    except KeyboardInterrupt:
        raise
    except BaseException:
        text = "(its message cannot be shown: computing it failed)"
    return printable(one_line(text))


def printable(text: object) -> str:
    """*text* with control characters (newlines, ANSI escapes, NUL) shown escaped: text from a checkpoint, a
    plugin or a file can then neither forge lines of output nor drive the terminal."""
    return "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in str(text))
