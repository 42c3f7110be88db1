"""Lightning's warnings about a run's own settings, prevented at their cause or said as seqkit's one-line notes.

Lightning prints them raw, with a file path and line number of its own source (``fit_loop.py:321: The number of
training batches (5) is smaller than the logging interval ...``); a seqkit user sees instead either nothing (the
cause is gone) or one line naming the recipe key.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

# Lightning's older names for its precisions, accepted with a warning that they are discouraged: the same setting.
LEGACY_PRECISION = {"16": "16-mixed", "bf16": "bf16-mixed", "32": "32-true", "64": "64-true"}
DEFAULT_LOG_EVERY = 10  # training steps between logged train/loss values, at most one epoch's batches
FEW_BATCHES = r"The number of training batches \(\d+\) is smaller than the logging interval"


def modern_precision(value: Any) -> Any:
    """*value* under Lightning's current name (``16`` and ``"16"`` -> ``"16-mixed"``, ``bf16`` -> ``"bf16-mixed"``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return value
    return LEGACY_PRECISION.get(str(value), value)


@contextlib.contextmanager
def precision_fallback_noted(section: Mapping[str, Any] | None, notes: list[str]) -> Iterator[None]:
    """Around ``Trainer(...)``: Lightning's fallback from float16 to bfloat16 AMP on CPU becomes a note in *notes*."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    asked = modern_precision((section or {}).get("precision"))
    for warning in caught:
        if asked == "16-mixed" and "AMP with fp16 is not supported" in str(warning.message):
            notes.append(
                f"trainer.precision={(section or {}).get('precision')}: float16 mixed precision does not run on the "
                "CPU; training in bf16-mixed (set trainer.precision=bf16-mixed to say so)"
            )
        else:  # every other warning goes on as Lightning raised it
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def log_interval_options(section: Mapping[str, Any] | None, batches: int) -> tuple[dict[str, int], list[str]]:
    """The ``log_every_n_steps`` to make the Trainer with, to fit an epoch of *batches* (none where the recipe sets
    it), and the notes to show."""
    interval, note = log_interval(section, batches)
    quiet_few_batches()
    return ({} if interval is None else {"log_every_n_steps": interval}), ([note] if note else [])


def log_interval(section: Mapping[str, Any] | None, batches: int | None) -> tuple[int | None, str | None]:
    """The ``log_every_n_steps`` to use for an epoch of *batches* training batches, and a note when the recipe's own
    is longer than an epoch (then train/loss is logged only at epoch ends). ``(None, None)``: leave it alone."""
    given = (section or {}).get("log_every_n_steps")
    limit = (section or {}).get("limit_train_batches")
    if batches is not None and isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(batches, limit)
    elif batches is not None and isinstance(limit, float):
        batches = int(batches * limit)
    if batches is None or batches < 1:
        return None, None
    if given is None:
        return min(DEFAULT_LOG_EVERY, batches), None
    if isinstance(given, int) and given > batches:
        return None, (
            f"trainer.log_every_n_steps={given} is more than the {batches} training batches of an epoch: per-step "
            f"values are logged every {given} steps, across epochs"
        )
    return None, None


def quiet_few_batches() -> None:
    """Lightning's own version of :func:`log_interval`'s note, once seqkit has said it (or prevented its cause)."""
    warnings.filterwarnings("ignore", message=FEW_BATCHES)


def batches_per_epoch(examples: int, per_device: int, world_size: int) -> int:
    """Training batches one process runs in an epoch (the last batch may be short)."""
    return math.ceil(examples / max(1, per_device * world_size))
