"""Values a recipe's types allow but seqkit or its builders reject: each checked key's range, and the rules
between keys (global batch size and accumulation, nesterov and momentum, the split fractions)."""

from __future__ import annotations

import math
from typing import Any

from seqkit.errors import suggest
from seqkit.rnn.options import recipe_ranges

# Beyond these a batch cannot be allocated on any machine seqkit runs on: refused up front (a layer's: its options).
MAX_SIZE = 1 << 24
MAX_WORKERS = 256  # loader processes: more is a fork bomb, not a speed-up
# Values the types allow but the builders reject: key path -> (test, what is expected).
RANGES: dict[str, tuple[Any, str]] = {
    "seed": (lambda v: 0 <= v < 2**32, "in [0, 2**32)"),
    "trainer.max_epochs": (lambda v: v >= 1 or v == -1, "at least 1, or -1 (no limit)"),
    "trainer.min_epochs": (lambda v: v >= 0, "0 or more"),
    "trainer.max_steps": (lambda v: v >= 1 or v == -1, "at least 1, or -1 (no limit)"),
    "trainer.gradient_clip_val": (lambda v: math.isfinite(v) and v >= 0, "a finite number, 0 or more"),
    "trainer.accumulate_grad_batches": (lambda v: 1 <= v <= MAX_SIZE, "at least 1"),
    "data.batch_size": (lambda v: v >= 1, "at least 1"),
    "data.eval_batch_size": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "data.num_workers": (lambda v: 0 <= v <= MAX_WORKERS, f"in [0, {MAX_WORKERS}]"),
    "data.limit": (lambda v: v is None or v >= 1, "at least 1, or null"),
    "data.global_batch_size": (lambda v: v is None or v >= 1, "at least 1, or null"),
    **recipe_ranges(),  # every layer option's, model.cell.* and task.tbptt_steps
    "optim.lr": (lambda v: v > 0, "above 0"),
    "optim.weight_decay": (lambda v: v >= 0, "0 or more"),
    "optim.momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.eps": (lambda v: v > 0, "above 0"),
    "optim.warmup_steps": (lambda v: v >= 0, "0 or more"),
    "optim.warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "optim.min_lr": (lambda v: v >= 0, "0 or more"),
    "optim.step_size": (lambda v: v >= 1, "at least 1"),
    "optim.gamma": (lambda v: v > 0, "above 0"),
    "optim.patience": (lambda v: v >= 0, "0 or more"),
    "optim.factor": (lambda v: 0 < v < 1, "in (0, 1)"),
}


def _passes(test: Any, value: float) -> bool:
    try:
        return bool(test(value)) and (not isinstance(value, float) or math.isfinite(value))
    except (OverflowError, ValueError):
        return False


def range_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Out-of-range values, for keys whose type is already right (type errors are reported elsewhere)."""
    problems = []
    for path, (test, expected) in RANGES.items():
        value: Any = data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not _passes(test, value):
            problems.append((path, f"expected {expected}, got {value!r}"))
    trainer = data.get("trainer") if isinstance(data.get("trainer"), dict) else {}
    loading = data.get("data") if isinstance(data.get("data"), dict) else {}
    if loading.get("global_batch_size") is not None and trainer.get("accumulate_grad_batches") not in (None, 1):
        problems.append(
            (
                "trainer.accumulate_grad_batches",
                "data.global_batch_size sets the gradient accumulation itself: remove one of the two",
            )
        )
    optim = data.get("optim") if isinstance(data.get("optim"), dict) else {}
    if optim.get("nesterov") is True and not optim.get("momentum"):
        problems.append(("optim.nesterov", "nesterov needs optim.momentum above 0"))
    split = (data.get("data") or {}).get("split") if isinstance(data.get("data"), dict) else None
    if isinstance(split, dict):
        for name, value in split.items():
            if name == "seed":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    problems.append(("data.split.seed", f"expected a whole number >= 0, got {value!r}"))
            elif name not in ("valid", "test"):
                problems.append(
                    (
                        f"data.split.{name}",
                        f"unknown split{suggest(str(name), ['valid', 'test', 'seed']) or '.'} "
                        "Expected valid and/or test (and seed)",
                    )
                )
            elif not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                problems.append((f"data.split.{name}", f"expected a fraction in [0, 1), got {value!r}"))
    return problems
