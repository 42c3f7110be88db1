"""The numbers a launcher (torchrun, Lightning's DDP launcher, ``srun``) hands a process in its environment.

Lightning reads several of them with a bare ``int()`` as it is imported, so a malformed one would end a run
with an internal error; the CLI checks them first and names the variable. Light: no torch, no Lightning.
"""

from __future__ import annotations

import os

from seqkit.errors import InvalidArgumentError

# the ranks and sizes torchrun, Lightning and SLURM set: each a whole number when set
NUMBERS = (
    "RANK",
    "LOCAL_RANK",
    "NODE_RANK",
    "GROUP_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "SLURM_NTASKS",
    "SLURM_PROCID",
    "SLURM_LOCALID",
    "SLURM_NODEID",
)


def number(name: str, default: int = 0) -> int:
    """The variable *name* as a whole number, *default* when unset or empty; a one-line error naming it otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidArgumentError(f"environment variable {name}={os.environ[name]!r}: expected a whole number")
    return int(raw)


def check() -> None:
    """Every launcher variable that is set is a whole number."""
    for name in NUMBERS:
        number(name)
