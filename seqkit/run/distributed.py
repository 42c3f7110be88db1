"""How one run spreads over processes: who is rank 0, where every rank writes, how big each batch is."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from seqkit.errors import SeqkitError
from seqkit.launcher_env import number as _number

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from seqkit.recipe.validate import Validated


def is_rank_zero() -> bool:
    """Whether this is rank 0, known before torch.distributed is up: the process the user started, or rank 0
    of a torchrun or ``srun`` launch. Lightning's DDP launcher tells the processes it starts their local and
    node rank; torchrun says ``RANK``; ``srun`` says ``SLURM_PROCID``."""
    if "RANK" in os.environ:
        return _number("RANK") == 0
    # SLURM_PROCID is also set in a plain `sbatch` shell, where the script itself is no rank of a job.
    if _number("SLURM_NTASKS", 1) > 1 and "SLURM_PROCID" in os.environ:
        return _number("SLURM_PROCID") == 0
    return _number("LOCAL_RANK", 0) == 0 and _number("NODE_RANK", 0) == 0


def shared_run_name() -> str | None:
    """A run-directory name every process of one launch agrees on, for launchers that start all ranks at once.

    Lightning's own launcher starts the other ranks from rank 0 and tells them its folder; torchrun and
    ``srun`` start every rank independently, so each would pick its own timestamp. Their job ids agree.
    """
    if _number("SLURM_NTASKS", 1) > 1 and os.environ.get("SLURM_JOB_ID"):
        step = os.environ.get("SLURM_STEP_ID")
        return f"slurm-{os.environ['SLURM_JOB_ID']}" + (f".{step}" if step else "")
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id and run_id != "none":
        return f"torchrun-{run_id}"
    return None


def started_by_external_launcher() -> bool:
    """True when rank 0 did not start every process: torchrun, a multi-task ``srun``, or the same command run
    by hand on each node with ``NODE_RANK`` (Lightning's launcher then starts only that node's processes)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or _number("SLURM_NTASKS", 1) > 1 or "NODE_RANK" in os.environ


@dataclass(frozen=True)
class BatchPlan:
    """Per-device micro-batch, accumulation steps, and the global batch they make per optimizer step."""

    per_device: int
    accumulate: int
    world_size: int

    @property
    def global_batch(self) -> int:
        return self.per_device * self.accumulate * self.world_size


def batch_plan(
    batch_size: int, global_batch_size: int | None, world_size: int, accumulate: int | None = None
) -> BatchPlan:
    """What ``data.batch_size`` and ``data.global_batch_size`` mean on *world_size* processes.

    Without a global batch size, ``batch_size`` is per device and the global batch grows with the devices.
    With one, the global batch is fixed: ``batch_size`` becomes the largest micro-batch a device may take,
    and gradient accumulation makes up the rest — the fewest accumulation steps that split the global batch
    evenly over the devices.
    """
    if global_batch_size is None:
        return BatchPlan(batch_size, accumulate or 1, world_size)
    if accumulate not in (None, 1):
        raise SeqkitError(
            "data.global_batch_size sets the gradient accumulation itself: "
            f"remove trainer.accumulate_grad_batches={accumulate}"
        )
    if global_batch_size % world_size:
        raise SeqkitError(
            f"data.global_batch_size={global_batch_size} does not split evenly over {world_size} processes: "
            f"expected a multiple of {world_size}"
        )
    per_process = global_batch_size // world_size
    steps = -(-per_process // batch_size)
    while per_process % steps:
        steps += 1
    return BatchPlan(per_process // steps, steps, world_size)


def fingerprint(value: Any) -> int:
    """A 63-bit digest of plain data (a tokenizer's vocabulary, a task's labels), equal on every process
    that built the same thing."""
    text = json.dumps(value, sort_keys=True, default=repr)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def check_same_on_every_process(strategy: Any, world_size: int, what: dict[str, Any]) -> None:
    """Every process built its own vocabulary, labels and splits from the data; DDP silently averages
    nonsense if they differ (a data file that changed between nodes, an unseeded source). Every process
    compares all of them, so all fail together instead of the others hanging."""
    if world_size < 2:
        return
    # on the device: NCCL, the GPUs' backend, has no CPU tensors
    mine = torch.tensor([fingerprint(value) for value in what.values()], dtype=torch.long, device=strategy.root_device)
    every = strategy.all_gather(mine).reshape(world_size, -1)
    differing = [name for column, name in enumerate(what) if len(set(every[:, column].cpu().tolist())) > 1]
    if differing:
        raise SeqkitError(
            f"the {world_size} processes built different {', '.join(differing)} from the data: expected "
            "every node to read the same data files (and data sources to be seeded)"
        )


def plan_batches(validated: Validated, world_size: int) -> BatchPlan:
    """The batch sizes of a validated recipe on *world_size* processes (devices × nodes, known before the
    Trainer: :func:`seqkit.run.trainer_factory.world_size`); the Trainer and the data module are made with it."""
    recipe = validated.recipe.data
    accumulate = (recipe.get("trainer") or {}).get("accumulate_grad_batches")
    data = validated.data
    plan = batch_plan(data["batch_size"], data["global_batch_size"], world_size, accumulate)
    if recipe.get("on_nonfinite") == "skip_batch" and (plan.world_size > 1 or plan.accumulate > 1):
        # Lightning cannot skip a step on some processes only, nor one micro-batch of an accumulated step
        raise SeqkitError(
            f"on_nonfinite: skip_batch works on one process without gradient accumulation; this run has "
            f"{plan.world_size} processes × {plan.accumulate} accumulated: use on_nonfinite=stop"
        )
    return plan


def log_plan(trainer: pl.Trainer, plan: BatchPlan) -> None:
    for logger in trainer.loggers:
        logger.log_hyperparams(
            {
                "global_batch_size": plan.global_batch,
                "batch_size_per_device": plan.per_device,
                "accumulate_grad_batches": plan.accumulate,
                "world_size": plan.world_size,
            }
        )
