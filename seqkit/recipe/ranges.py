"""Values a recipe's types allow but seqkit or its builders reject: each checked key's range (or form, for
Lightning's devices), and the rules between keys (global batch size and accumulation, nesterov and momentum, the
split fractions)."""

from __future__ import annotations

import math
from typing import Any

from seqkit.errors import suggest
from seqkit.rnn.options import recipe_ranges
from seqkit.threads import MAX_THREADS

# Beyond these a batch cannot be allocated on any machine seqkit runs on: refused up front (a layer's: its options).
MAX_SIZE = 1 << 24
MAX_WORKERS = 256  # loader processes: more is a fork bomb, not a speed-up
MAX_DEVICES = 4096  # devices (processes, on the CPU) of one node: more is a fork bomb, not a machine


def _batches(value: float) -> bool:
    """Lightning's rule for a share of an epoch's batches: a fraction in [0, 1], or a whole number above 1."""
    return 0 <= value <= 1 or (value > 1 and value % 1 == 0)


# Values the types allow but the builders reject: key path -> (test, what is expected).
RANGES: dict[str, tuple[Any, str]] = {
    "seed": (lambda v: 0 <= v < 2**32, "in [0, 2**32)"),
    "trainer.max_epochs": (lambda v: v >= 1 or v == -1, "at least 1, or -1 (no limit)"),
    "trainer.min_epochs": (lambda v: v >= 0, "0 or more"),
    "trainer.max_steps": (lambda v: v >= 1 or v == -1, "at least 1, or -1 (no limit)"),
    "trainer.gradient_clip_val": (lambda v: math.isfinite(v) and v >= 0, "a finite number, 0 or more"),
    "trainer.accumulate_grad_batches": (lambda v: 1 <= v <= MAX_SIZE, "at least 1"),
    "trainer.threads": (lambda v: 1 <= v <= MAX_THREADS, f"a whole number of threads in [1, {MAX_THREADS}]"),
    # Lightning's fraction-or-count keys: it refuses the rest only once the run has begun (and seqkit's batch count
    # would meet a NaN or inf first)
    **{
        f"trainer.{key}": (_batches, "a fraction in [0, 1] or a whole number of batches")
        for key in (
            "limit_val_batches",
            "limit_test_batches",
            "limit_predict_batches",
            "overfit_batches",
        )
    },
    # none of it would train nothing (Lightning's loop then ends at once, before any checkpoint), and validating
    # every 0 batches divides by zero
    **{
        f"trainer.{key}": (lambda v: v > 0 and _batches(v), "a fraction in (0, 1] or a whole number of batches")
        for key in ("limit_train_batches", "val_check_interval")
    },
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


def _count(text: str) -> int | None:
    """*text* as Lightning reads a device count or index (ASCII digits, spaces around them), or None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def lightning_devices(value: Any) -> bool:
    """Whether ``pytorch_lightning.Trainer(devices=value)`` takes *value* on some accelerator: a count of at least 1
    (and, here, at most MAX_DEVICES), -1 (all), ``"auto"``, or distinct device indices as a list (``[0, 2]``) or a
    comma string (``"0,2"``, ``"1,"``).

    Lightning refuses the rest, most only once its accelerator is chosen (``-2``: a TypeError on the CPU, an empty
    device list on a GPU): in a recipe they are refused before anything runs. A count or index is written in ASCII
    digits (Lightning's ``int()`` would also read ``+1`` or other scripts' digits, which no recipe means). What
    the chosen accelerator takes (the CPU: a count only) depends on the machine, and ``seqkit eval`` ignores the
    devices: :func:`seqkit.environment.check_trainer` judges that when a run starts.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 1 <= value <= MAX_DEVICES or value == -1
    if isinstance(value, list):
        indices = value
    elif not isinstance(value, str):
        return False
    elif value == "auto" or value.strip() == "-1":
        return True
    elif "," in value:
        # Lightning skips empty pieces ("1," is [1]) and reads the others with int(), spaces around digits included
        indices = [_count(piece) for piece in value.split(",") if piece]
    else:
        return 1 <= (_count(value) or 0) <= MAX_DEVICES
    numbers = [i for i in indices if isinstance(i, int) and not isinstance(i, bool) and i >= 0]
    return bool(indices) and len(numbers) == len(indices) and len(set(numbers)) == len(numbers)


# Keys whose valid values are forms, not a range of numbers: key path -> (test of a value of any type, expected).
FORMS: dict[str, tuple[Any, str]] = {
    "trainer.devices": (
        lightning_devices,
        f"a count in [1, {MAX_DEVICES}], -1 (all), 'auto', or distinct device indices (a list such as [0, 2], or a "
        "string such as '0,2')",
    ),
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
    for path, (test, expected) in FORMS.items():
        *parents, key = path.split(".")
        holder: Any = data
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        # unset: the default; ???: reported as missing; a wrong type: by the type check, first (one problem per key)
        if isinstance(holder, dict) and key in holder and holder[key] != "???" and not test(holder[key]):
            problems.append((path, f"expected {expected}, got {holder[key]!r}"))
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
