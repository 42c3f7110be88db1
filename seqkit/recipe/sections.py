"""The keys seqkit itself reads in each recipe section; every other key goes to the section's entry (its ``kind``)."""

from __future__ import annotations

import inspect
from typing import Any

from seqkit.rnn.options import recipe_options


def data_options(
    batch_size: int = 32,
    eval_batch_size: int | None = None,
    split: dict[str, Any] | None = None,  # fractions and a seed, checked in seqkit.recipe.ranges
    num_workers: int = 0,
    limit: int | None = None,
    global_batch_size: int | None = None,
) -> dict[str, Any]:
    """The ``data`` keys seqkit itself reads; every other key goes to the data source.

    ``batch_size`` is per device; ``global_batch_size`` fixes the examples per optimizer step whatever the
    number of devices (then ``batch_size`` is the most one device takes at once, and gradient accumulation
    makes up the rest). ``split`` carves validation and test sets out of sources without their own (seeded,
    deterministic: by ``split.seed``, else the run's ``seed``); ``limit`` keeps at most that many records of
    each split, for quick trials.
    """
    return {
        "limit": limit,
        "batch_size": batch_size,
        "global_batch_size": global_batch_size,
        "eval_batch_size": eval_batch_size or batch_size,
        "split": {k: v for k, v in split.items() if k != "seed"} if split is not None else {"valid": 0.1, "test": 0.1},
        # its own seed keeps one test set across runs whose seeds differ, so that their scores compare
        "split_seed": split.get("seed") if split is not None else None,
        "num_workers": num_workers,
    }


# the task keys seqkit itself reads, for every task (tbptt_steps: see seqkit.rnn.tbptt); every other key goes to the
# task's builder, which also receives one of these when its own signature names it
task_options = recipe_options("task")


def task_builder_options(section: dict[str, Any], build: Any) -> dict[str, Any]:
    """The ``task`` keys the task's builder receives: all but ``kind`` and seqkit's own, which it gets only
    when its signature names them (so a task that declared such an option before seqkit owned it keeps it)."""
    own, rest = split_section(section, task_options)
    named = set(inspect.signature(build).parameters)
    return {**rest, **{k: v for k, v in own.items() if k in named}}


# the model.cell keys seqkit's runner reads, for every cell; every other key is an option of the cell
cell_options = recipe_options("model.cell")


def split_section(section: dict[str, Any], generic: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(seqkit's keys, the entry's keys)`` of a section, minus ``kind``."""
    names = set(inspect.signature(generic).parameters)
    own = {k: v for k, v in section.items() if k in names}
    rest = {k: v for k, v in section.items() if k not in names and k != "kind"}
    return own, rest
