"""With ``--json``, standard output holds the JSON alone, whatever plugins and libraries write, and however."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def stdout_for_json_alone(args: Any) -> Iterator[None]:
    """Within this block ``args.stdout`` is the real standard output and everything else written to it goes to
    standard error: ``print`` (``sys.stdout``), and also writes straight to file descriptor 1 (a plugin's
    ``os.write(1, ...)`` at import, a C library), which no Python-level redirection reaches."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): only Python writes to it
        fd = None
    if fd != 1:
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    sys.stdout.flush()
    kept = os.dup(1)
    line = getattr(sys.stdout, "line_buffering", False)
    args.stdout = open(  # noqa: SIM115 -- closed below, after descriptor 1 is put back
        kept, "w", buffering=1 if line else -1, encoding=sys.stdout.encoding, errors=sys.stdout.errors
    )
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
        args.stdout.flush()  # inside: a full disk or a closed pipe is reported, never an output cut short
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()  # what was written to descriptor 1 meanwhile belongs to standard error
        os.dup2(kept, 1)
        with contextlib.suppress(OSError):
            args.stdout.close()
        args.stdout = sys.stdout
