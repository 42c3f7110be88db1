"""Thread policy: how many torch threads to use and how OpenMP waits, from the CPUs this process may really use.

Chosen once, in the CLI entry point before torch is imported (OpenMP reads its wait policy when it is loaded).
It imports nothing heavy: ``seqkit --help`` must stay instant.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from seqkit.errors import InvalidArgumentError

THREADS_VAR = "SEQKIT_THREADS"
# more threads than any machine seqkit runs on has CPUs: 100000 crashed OpenMP's runtime (a segmentation fault)
MAX_THREADS = 4096
WAIT_VAR = "OMP_WAIT_POLICY"
# seqkit's wait: spin briefly, then sleep. Measured (docs/benchmarks.md, thread policy): OpenMP's default spin
# (300,000 rounds in GNU OpenMP) made a GRU step 6-18x slower beside busy processes; passive waiting (no spin)
# made it 2x slower on a quiet machine, since every one of a recurrence's many short parallel regions then
# wakes sleeping threads; 10,000 rounds kept the quiet speed and halved the loaded loss.
SPIN_VARS = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}  # GNU OpenMP (rounds); Intel/LLVM OpenMP (ms)
BRIEF = "brief spin"
# GNU OpenMP (torch's runtime on Linux) only warns of a value it cannot parse and runs with its default, so seqkit
# would report, and be measured under, a setting not in force: the variables it reads are checked here as GNU OpenMP
# parses them (libgomp env.c). KMP_BLOCKTIME is not: GNU OpenMP ignores it, and its syntax differs between the
# Intel/LLVM runtimes' versions (units, fractions), so a check here could refuse a value that one of them accepts.
SPACE = " \t\n\r\f\v"  # C's isspace(), which OpenMP strips around each value
SPIN_COUNT = re.compile(r"\s*(?:infinite|infinity|\+?[0-9]+\s*[kmgt]?)\s*", re.IGNORECASE | re.ASCII)
MAX_SPIN_COUNT = 2**64 - 1  # GNU OpenMP parses the number with strtoull: a larger one overflows and is refused
OPENMP_VARS = ("OMP_NUM_THREADS", WAIT_VAR, "GOMP_SPINCOUNT")  # the ones checked; empty means unset
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ThreadPolicy:
    """What was chosen and why, as the run header and ``metrics.json`` report it."""

    threads: int
    reason: str  # e.g. "affinity 2 CPUs", "cgroup quota 1.5 CPUs", "SEQKIT_THREADS=3", "trainer.threads=2"
    wait: str  # the OpenMP wait policy in force, lower case: "brief spin" (seqkit's), "passive", "active", ...
    # "seqkit default", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"; "" where seqkit chose no wait (used as a
    # library, with a recipe's trainer.threads)
    wait_reason: str

    def describe(self) -> str:
        """One phrase: ``2 threads (affinity 2 CPUs), OpenMP wait brief spin``; ``1 thread (...)``."""
        chosen_here = self.wait_reason in ("seqkit default", "")
        wait = self.wait if chosen_here else f"{self.wait} (set by {self.wait_reason})"
        return f"{self.threads} thread{'s' if self.threads != 1 else ''} ({self.reason}), OpenMP wait {wait}"

    def as_dict(self) -> dict[str, object]:
        return {"threads": self.threads, "reason": self.reason, "wait": self.wait, "wait_reason": self.wait_reason}


def _explicit(env: Mapping[str, str]) -> tuple[int, str] | None:
    """``SEQKIT_THREADS`` wins, then ``OMP_NUM_THREADS`` (its first value: OpenMP allows a nested list). Both are
    checked whichever wins: the OpenMP runtime reads ``OMP_NUM_THREADS`` either way."""
    found = [(name, _levels(env, name)) for name in (THREADS_VAR, "OMP_NUM_THREADS")]
    for name, levels in found:
        if levels:
            return levels[0], f"{name}={levels[0]}"
    return None


def _levels(env: Mapping[str, str], name: str) -> list[int]:
    """The thread counts *name* gives per nesting level (none when unset or empty). The first, the one seqkit uses,
    is at most MAX_THREADS; the nested ones need only be whole numbers of at least 1, as OpenMP reads them."""
    raw = env.get(name, "").strip(SPACE)
    if not raw:
        return []
    # every level is checked, not only the first seqkit uses: OpenMP refuses the whole list for one bad level
    levels = [level.strip(SPACE) for level in raw.split(",")]
    counts = [int(level) if level.isascii() and level.isdigit() else 0 for level in levels]
    if not (1 <= counts[0] <= MAX_THREADS and all(count >= 1 for count in counts)):
        nested = (
            ", then one of at least 1 per nesting level, separated by commas (e.g. 4 or 4,2)" if len(levels) > 1 else ""
        )
        raise InvalidArgumentError(
            f"environment variable {name}={env[name]!r}: "
            f"expected a whole number of threads in [1, {MAX_THREADS}]{nested}"
        )
    return counts


def _quota_v2(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 ``cpu.max`` line (``"max 100000"`` or ``"150000 100000"``), None if unlimited."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):  # ValueError: a name the OS cannot take (a NUL byte)
        return None


def cgroup_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The tightest CPU quota over this process's cgroup and its ancestors (v2 ``cpu.max``, else v1 CFS), or None."""
    limits: list[float] = []
    v1: list[tuple[str, str]] = []  # (the cpu controller's hierarchy, this process's cgroup in it)
    for line in (_read(proc_cgroup) or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, relative = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # cgroup v2: one unified tree
            limits += _up_the_tree(root, _own_cgroup(root, relative), _quota_v2_at)
        elif "cpu" in controllers.split(","):
            v1.append((controllers, relative))
    if not limits:  # cgroup v1: the cpu controller's CFS quota, in this process's cgroup and those above it
        for controllers, relative in v1 or [("cpu", "/")]:
            for name in dict.fromkeys((controllers, "cpu", "cpu,cpuacct", "cpuacct,cpu")):
                mount = root / name
                if mount.is_dir():
                    limits += _up_the_tree(mount, _own_cgroup(mount, relative), _quota_v1)
                    break
    return min(limits) if limits else None


def _own_cgroup(mount: Path, relative: str) -> Path:
    """This process's cgroup under *mount*, or *mount* itself where the path does not lead there: inside a container
    the mount is the container's own cgroup though the path names the host's, and in a cgroup namespace the path
    can climb above the mount with ``..`` (read as written, it would leave the hierarchy)."""
    own = mount / relative.lstrip("/")
    return own if own.is_dir() and ".." not in Path(relative).parts else mount


def _up_the_tree(root: Path, directory: Path, quota: Callable[[Path], float | None]) -> list[float]:
    """The quotas set on *directory* and each directory above it, up to *root*."""
    limits = []
    while True:
        found = quota(directory)
        if found is not None:
            limits.append(found)
        if directory == root or root not in directory.parents:
            return limits
        directory = directory.parent


def _quota_v2_at(directory: Path) -> float | None:
    return _quota_v2(_read(directory / "cpu.max") or "")


def _quota_v1(directory: Path) -> float | None:
    quota_text, period_text = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    if not (quota_text and period_text):
        return None
    return _quota_v2(f"{quota_text.strip()} {period_text.strip()}".replace("-1 ", "max "))


def _affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def choose(
    env: Mapping[str, str] | None = None,
    affinity: Callable[[], int] = _affinity,
    cgroup: Callable[[], float | None] = cgroup_cpus,
) -> ThreadPolicy:
    """The policy for *env* (``os.environ`` by default): an explicit setting, else the tightest of the affinity mask,
    the cgroup quota (rounded up: 1.5 CPUs of quota still run two threads half the time) and ``SLURM_CPUS_PER_TASK``."""
    env = os.environ if env is None else env
    wait, wait_reason = _wait(env)
    explicit = _explicit(env)
    if explicit is not None:
        return ThreadPolicy(explicit[0], explicit[1], wait, wait_reason)
    cpus = affinity()
    candidates: list[tuple[int, str]] = [(cpus, f"affinity {cpus} CPU{'s' if cpus != 1 else ''}")]
    quota = cgroup()
    if quota is not None:
        candidates.append((max(1, math.ceil(quota - 1e-9)), f"cgroup quota {quota:g} CPU{'s' if quota != 1 else ''}"))
    slurm = env.get("SLURM_CPUS_PER_TASK", "").strip()
    if slurm.isdigit() and int(slurm) >= 1:
        candidates.append((int(slurm), f"SLURM_CPUS_PER_TASK={slurm}"))
    threads, reason = min(candidates, key=lambda candidate: candidate[0])  # ties: the first, the affinity mask
    return ThreadPolicy(threads, reason, wait, wait_reason)


def _wait(env: Mapping[str, str]) -> tuple[str, str]:
    """The user's wait setting where there is one (``OMP_WAIT_POLICY`` first, then a spin setting), else seqkit's.

    Both OpenMP variables are checked even where the first decides: the runtime reads each of them."""
    _check_spin_count(env.get("GOMP_SPINCOUNT", ""))
    chosen = env.get(WAIT_VAR, "").strip(SPACE)
    if chosen:
        if chosen.lower() not in ("active", "passive"):
            raise InvalidArgumentError(
                f"environment variable {WAIT_VAR}={env[WAIT_VAR]!r}: expected ACTIVE or PASSIVE (in any case)"
            )
        return chosen.lower(), WAIT_VAR
    for name, what in (("GOMP_SPINCOUNT", "spin count"), ("KMP_BLOCKTIME", "block time")):
        if env.get(name, "").strip(SPACE):
            return f"{what} {env[name].strip(SPACE)}", name
    return BRIEF, "seqkit default"


def _check_spin_count(raw: str) -> None:
    """Refuse a ``GOMP_SPINCOUNT`` GNU OpenMP would not parse, and a minus sign, which it reads as a huge count (-1:
    2**64-1);
    an empty one is no setting."""
    if not raw.strip(SPACE):
        return
    valid = SPIN_COUNT.fullmatch(raw) is not None
    number = raw.strip(SPACE).lower()
    if valid and not number.startswith("infinit"):
        digits = number.rstrip("kmgt").strip(SPACE).removeprefix("+")  # strtoull reads a plus sign
        valid = int(digits) <= MAX_SPIN_COUNT  # the number alone: a suffix that overflows is capped, not refused
    if not valid:
        raise InvalidArgumentError(
            f"environment variable GOMP_SPINCOUNT={raw!r}: expected a whole number of spins (at most "
            f"{MAX_SPIN_COUNT}), optionally followed by k, M, G or T (thousand to trillion), or INFINITE"
        )


_applied: ThreadPolicy | None = None


def apply_environment(env: dict[str, str] | os._Environ[str] | None = None) -> ThreadPolicy:
    """Choose the policy and set the wait (a brief spin) in the environment; call before torch is imported.

    The thread count itself is applied by :func:`apply_torch`, since ``OMP_NUM_THREADS`` in the environment would
    also reach every subprocess (data loader workers, spawned ranks) as if the user had set it.
    """
    global _applied
    env = os.environ if env is None else env
    policy = choose(env)
    for name in OPENMP_VARS:  # an empty one means unset to seqkit; OpenMP would warn that it is invalid
        if name in env and not env[name].strip(SPACE):
            del env[name]
    if policy.wait_reason == "seqkit default":
        env.update(SPIN_VARS)
    _applied = policy
    return policy


def others_running(stat: Path = Path("/proc/stat"), samples: int = 3, interval: float = 0.01) -> int | None:
    """How many other tasks keep CPUs busy: the machine's runnable tasks (``procs_running``) less this one, the
    fewest of a few samples (a burst of short work is not load), or None where ``/proc/stat`` is unreadable."""
    seen: list[int] = []
    for sample in range(samples):
        if sample:
            time.sleep(interval)
        for line in (_read(stat) or "").splitlines():
            name, _, value = line.partition(" ")
            if name == "procs_running" and value.strip().isdigit():
                seen.append(max(0, int(value) - 1))
    return min(seen) if seen else None


def sharing_busy_cpus(policy: ThreadPolicy, cpus: int, machine_cpus: int | None, busy: int | None) -> ThreadPolicy:
    """*policy* with no more threads than the CPUs that *busy* other tasks leave free (at least one).

    Only where the policy came from the affinity mask and that mask is the whole machine (``procs_running`` counts
    the whole machine's tasks: under a quota, a Slurm allocation or a narrower mask they are not ours to share).
    Threads that each get part of a CPU beside busy processes wait for each other at every OpenMP barrier; fewer
    threads, each with a whole CPU, lose less (docs/benchmarks.md, thread policy on shared cores).
    """
    if busy is None or busy <= 0 or machine_cpus != cpus or not policy.reason.startswith("affinity"):
        return policy
    threads = max(1, cpus - busy)
    if threads >= policy.threads:
        return policy
    return replace(policy, threads=threads, reason=f"{policy.reason}, {busy} busy with other work")


def apply_torch() -> ThreadPolicy | None:
    """Set torch's intra-op thread count to the chosen one (imports torch); None if no policy was chosen.

    Here, where computing is about to start, the count is also lowered to the CPUs other work leaves free
    (:func:`sharing_busy_cpus`); choosing it at start-up would cost every command, ``--help`` too, the sampling."""
    global _applied
    if _applied is None:
        return None
    _applied = sharing_busy_cpus(_applied, _affinity(), os.cpu_count(), others_running())
    _set_torch_threads(_applied.threads)
    return _applied


def applied() -> ThreadPolicy | None:
    """The policy the CLI chose in this process (or a run's ``trainer.threads`` set), or None (seqkit used as a
    library: torch's own defaults)."""
    return _applied


RECIPE_KEY = "trainer.threads"
UNCHOSEN_WAIT = "as OpenMP starts"  # seqkit used as a library: the wait is whatever the runtime read at start


def apply_recipe(threads: int | None) -> ThreadPolicy | None:
    """A run's own thread count, the recipe's ``trainer.threads`` (checked by validation), set in torch; None: the
    policy stays as chosen. It wins over ``SEQKIT_THREADS``, ``OMP_NUM_THREADS`` and the CPUs found: it is the
    setting of this run, saved with it, where the environment is every run's. Returns the policy in force."""
    global _applied
    if threads is None:
        return _applied
    wait = (_applied.wait, _applied.wait_reason) if _applied is not None else (UNCHOSEN_WAIT, "")
    _applied = ThreadPolicy(threads, f"{RECIPE_KEY}={threads}", *wait)
    _set_torch_threads(threads)
    return _applied


def restore(policy: ThreadPolicy | None, threads: int) -> None:
    """Put back the policy and torch's thread count from before a run that set its own (:func:`apply_recipe`), so
    that it does not carry into the next run in this process."""
    global _applied
    _applied = policy
    _set_torch_threads(threads)


def _set_torch_threads(threads: int) -> None:
    """torch's intra-op thread count, set only where it differs (imports torch: computing is about to start)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
