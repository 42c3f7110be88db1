"""``SEQKIT_TRACE_PLUGINS=1``: every hook call, which plugins it reaches and what each registered, on stderr."""

from __future__ import annotations

import sys
from typing import Any


def trace(message: str) -> None:
    print(f"seqkit trace: {message}", file=sys.stderr, flush=True)


def trace_before(hook_name: str, impls: list[Any], kwargs: dict[str, Any]) -> None:
    trace(f"{hook_name}({', '.join(kwargs)}) → {', '.join(i.plugin_name for i in impls) or 'no plugin'}")


def trace_after(outcome: Any, hook_name: str, impls: list[Any], kwargs: dict[str, Any]) -> None:
    error = outcome.exception
    trace(f"{hook_name} ← {'raised ' + type(error).__name__ if error else 'done'}")
