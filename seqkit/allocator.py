"""Allocator policy: glibc keeps the memory a run frees for the next step, instead of handing it back to the OS.

A training step frees and allocates the same large tensors every step (an LSTM layer's input projection and its
gradient, 13 MB each at B=32, T=100, H=256). glibc's malloc hands a freed block of 128 KiB or more back to the
kernel (an ``mmap`` of its own, or trimmed off the heap's top), so the next step gets the memory back one page
fault at a time: 4,000-6,000 faults a forward+backward of the generic kernel's ``ln_lstm`` at that shape, about a
tenth of its time (docs/benchmarks.md). The CLI's computing commands raise glibc's two thresholds, so that blocks
up to 32 MiB (glibc's largest threshold) come from the heap and the heap's top is handed back only beyond 1 GiB
free: freed memory is kept for reuse, as PyTorch's GPU allocator keeps it (PyTorch's CPU tuning guide suggests
another allocator, jemalloc or TCMalloc, to the same end).

Set before torch is imported (:func:`apply`), and exported as glibc's own variables, which it reads when a process
starts, for the processes a run starts (spawned ranks, data loader workers). Left as it is: any of glibc's
``MALLOC_*`` thresholds or a ``glibc.malloc`` tunable set by the user, an allocator preloaded with
``LD_PRELOAD`` (jemalloc, tcmalloc, mimalloc), a C library other than glibc, or ``SEQKIT_MALLOC=system``.
It imports nothing heavy: ``seqkit --help`` must stay instant.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from seqkit.errors import InvalidArgumentError

POLICY_VAR = "SEQKIT_MALLOC"
CHOICES = ("keep", "system")
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit systems; a larger one is refused
TRIM_THRESHOLD = 1024 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
OURS = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
# glibc's variables that decide when freed memory goes back: any of them set means the user chose
GLIBC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
PRELOADED = ("malloc",)  # jemalloc, tcmalloc, tcmalloc_minimal, mimalloc, snmalloc: their library names say so


@dataclass(frozen=True)
class AllocatorPolicy:
    """What was chosen and why, as the run header and ``metrics.json`` report it."""

    keeps_freed: bool  # seqkit raised glibc's thresholds
    reason: str  # "seqkit default", "SEQKIT_MALLOC=system", "MALLOC_TRIM_THRESHOLD_ set", "not glibc", ...

    def describe(self) -> str:
        """One phrase: ``freed memory kept``, or ``allocator as is (LD_PRELOAD libjemalloc.so.2)`` and the like."""
        return "freed memory kept" if self.keeps_freed else f"allocator as is ({self.reason})"

    def as_dict(self) -> dict[str, object]:
        return {"keeps_freed": self.keeps_freed, "reason": self.reason}


def choose(env: Mapping[str, str], libc: str | None) -> AllocatorPolicy:
    """The policy for *env* on a C library named *libc* (``glibc 2.36``, or None where unknown)."""
    setting = env.get(POLICY_VAR, "").strip()
    if setting and setting not in CHOICES:
        raise InvalidArgumentError(
            f"environment variable {POLICY_VAR}={setting!r}: expected 'keep' (freed memory kept for reuse, the "
            "default) or 'system' (the C library's own behaviour)"
        )
    if setting == "system":
        return AllocatorPolicy(False, f"{POLICY_VAR}=system")
    preloaded = [p for p in env.get("LD_PRELOAD", "").replace(":", " ").split() if _is_allocator(p)]
    if preloaded:
        return AllocatorPolicy(False, f"LD_PRELOAD {os.path.basename(preloaded[0])}")
    if not (libc or "").startswith("glibc"):
        return AllocatorPolicy(False, "not glibc")
    users = [name for name in GLIBC_VARS if env.get(name, "") not in ("", OURS.get(name))]
    if users:
        return AllocatorPolicy(False, f"{users[0]} set")
    if "glibc.malloc." in env.get("GLIBC_TUNABLES", ""):
        return AllocatorPolicy(False, "GLIBC_TUNABLES set")
    return AllocatorPolicy(True, "seqkit default")


def _is_allocator(path: str) -> bool:
    return any(word in os.path.basename(path).lower() for word in PRELOADED)


def libc_name() -> str | None:
    """``glibc 2.36`` where the C library is glibc; None where it does not say (musl, macOS)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):  # not a name this platform knows; no confstr (Windows)
        return None


_applied: AllocatorPolicy | None = None


def apply(
    env: MutableMapping[str, str] | None = None,
    libc: str | None = None,
    mallopt: Callable[[int, int], Any] | None = None,
) -> AllocatorPolicy:
    """Choose the policy and set it in this process (glibc's ``mallopt``) and, for the processes it starts, in
    *env*; call before torch is imported. *libc* and *mallopt* default to this process's own."""
    global _applied
    env = os.environ if env is None else env
    policy = choose(env, libc_name() if libc is None else libc)
    if policy.keeps_freed:
        set_option = mallopt or _glibc_mallopt()
        # mallopt returns 1 on success: a glibc that refuses either value keeps its own behaviour, and says so
        if set_option is None:
            policy = AllocatorPolicy(False, "mallopt not found")
        elif not all(
            set_option(option, value) == 1
            for option, value in ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        ):
            policy = AllocatorPolicy(False, "glibc refused the thresholds")
        else:
            env.update(OURS)
    _applied = policy
    return policy


def _glibc_mallopt() -> Callable[[int, int], Any] | None:
    import ctypes

    try:
        function = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return function


def applied() -> AllocatorPolicy | None:
    """The policy the CLI chose in this process, or None (seqkit used as a library: the C library's defaults)."""
    return _applied
