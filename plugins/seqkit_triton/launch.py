"""Host side of the recurrent kernels: block sizes, the persistent-or-per-step choice, and the launches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqkit import InvalidArgumentError
from seqkit_triton.loader import device_code

# A program's three (HP, BH) weight tiles stay on chip for the whole sequence; past this many bytes they
# spill, and the per-step variant (which reloads them from L2 each step) is the better choice. Compiled for
# sm_90 with BB=16, BH=16, 8 warps (ptxas, no GPU run): bf16 H=256 184 registers, no spills; H=512 16 bytes
# spilled; H=1024 about 650 bytes; fp32 H=1024 spills heavily (and exceeds this bound). To be tuned on a GPU.
_TILE_BYTES = 96 * 1024
_MAX_SPIN = 1 << 22  # about a few seconds of polling before a barrier gives up and reports an error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """How one layer runs: ``groups`` x ``slices`` programs of ``BB`` rows by ``BH`` hidden units."""

    persistent: bool
    BB: int
    BH: int
    HP: int
    groups: int
    slices: int
    num_warps: int = 4


def _pow2(n: int, low: int = 16) -> int:
    return max(low, 1 << max(0, n - 1).bit_length())


def plan(batch: int, hidden: int, device: torch.device, dtype: torch.dtype, persistent: bool) -> Plan:
    """Block sizes for a ``(batch, hidden)`` layer; a persistent request falls back to per-step where it cannot fit.

    In the interpreter programs run one after another, so a persistent kernel gets one hidden slice per batch
    group (its barrier never waits); the per-step variant gets 16-unit slices, so tests cover several, and
    groups of 4 rows.
    """
    HP = _pow2(hidden)
    if device.type != "cuda":  # tl.dot's 16-row minimum is the GPU's; small groups let tests cover several
        BB, BH = 4, HP if persistent else 16
        return Plan(persistent, BB, BH, HP, -(-batch // BB), -(-hidden // BH))
    BB = min(32, _pow2(batch))
    groups = -(-batch // BB)
    if persistent:
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        size = torch.finfo(dtype).bits // 8
        for BH in (16, 32, 64):
            slices = -(-hidden // BH)
            # every program of a group must be resident at once for the barrier: at most one per SM
            if groups * slices <= sms and 3 * HP * BH * size <= _TILE_BYTES:
                return Plan(True, BB, BH, HP, groups, slices, num_warps=8)
    return Plan(False, BB, 32, HP, groups, -(-hidden // 32))


def _fallbacks(p: Plan) -> list[Plan]:
    """*p*, then smaller plans to try when the compiler says *p* needs more registers or shared memory than the
    GPU has: per-step instead of persistent, then narrower slices and smaller batch groups, then more warps."""
    tried = [p]
    BB, HP, batch, hidden = p.BB, p.HP, p.groups * p.BB, p.slices * p.BH
    for bb, bh, warps in ((BB, 32, 4), (BB, 16, 4), (16, 16, 4), (16, 16, 8)):
        bb = min(bb, BB)
        option = Plan(False, bb, bh, HP, -(-batch // bb), -(-hidden // bh), warps)
        if option not in tried:
            tried.append(option)
    return tried


# (pass, B, H, dtype, persistent requested) -> the plan that compiled, once a larger one ran out of resources
_working: dict[tuple[Any, ...], Plan] = {}


def _launch_with_fallback(key: tuple[Any, ...], first: Plan, run: Callable[[Plan], None]) -> Plan:
    """``run(plan)`` with *first*, or the first smaller plan that compiles on this GPU (remembered per shape)."""
    from triton.runtime.errors import OutOfResources

    options = [_working[key]] if key in _working else _fallbacks(first)
    for i, option in enumerate(options):
        try:
            run(option)
        except OutOfResources as exc:
            if i + 1 == len(options):
                raise
            log.warning("Triton GRU: %s does not fit this GPU (%s); trying %s", option, exc, options[i + 1])
            continue
        if option != first:
            _working[key] = option
        return option
    raise AssertionError("unreachable")


def _flags(p: Plan, dtype: torch.dtype) -> dict:
    return dict(IEEE=dtype == torch.float32, MAX_SPIN=_MAX_SPIN, BB=p.BB, BH=p.BH, HP=p.HP, num_warps=p.num_warps)


def _check_size(u: Tensor, hidden: int) -> None:
    # the kernels index with 32-bit integers; the largest buffer is the stored gates, (T, B, 4H)
    if max(u.numel(), (u.shape[1] + 1) * u.shape[0] * 4 * hidden) >= 2**31:
        raise InvalidArgumentError(
            f"the Triton GRU indexes with 32 bits: B={u.shape[0]}, T={u.shape[1]}, H={hidden} is too large "
            "for one call; split the batch or the sequence"
        )


def _check(error: Tensor) -> None:
    if int(error.item()):
        raise RuntimeError(
            "the persistent Triton GRU kernel timed out at a barrier: its programs were not all resident "
            "(another kernel sharing the GPU?); use backend 'triton_step'"
        )


def forward(
    u: Tensor, w_hh: Tensor, b_hh: Tensor | None, h0: Tensor, lens: Tensor, steps: int, reset_after: bool,
    persistent: bool, store: bool,
) -> tuple[Tensor, Tensor, Tensor, Plan]:  # fmt: skip
    """The recurrence over ``u`` ``(B, T, 3H)`` for its first *steps* steps.

    Returns ``y`` ``(B, T, H)`` in ``u``'s dtype (zero past each length), ``hs`` ``(T+1, B, H)`` fp32 (the state
    before each step; at and past *steps* the final one), ``gates`` ``(T, B, 4H)`` fp32 (or empty unless
    *store*) and the plan that ran.
    """
    B, T, H = u.shape[0], u.shape[1], w_hh.shape[1]
    _check_size(u, H)
    hs = torch.empty(T + 1, B, H, device=u.device, dtype=torch.float32)
    hs[0] = h0
    y = (torch.zeros if steps < T else torch.empty)(B, T, H, device=u.device, dtype=u.dtype)
    gates = (torch.zeros if steps < T else torch.empty)((T, B, 4 * H) if store else (0,), device=u.device)
    p = plan(B, H, u.device, u.dtype, persistent)
    if persistent and not p.persistent:
        log.debug("B=%d H=%d %s does not fit a persistent launch on this GPU: runs per-step", B, H, u.dtype)
    if steps > 0:
        scratch = hs if reset_after else torch.empty(B, 2 * H, device=u.device, dtype=torch.float32)
        kernel = device_code(u.device.type != "cuda").fwd_kernel

        def run(p: Plan) -> None:
            counter = torch.zeros(p.groups, device=u.device, dtype=torch.int32)
            error = torch.zeros(1, device=u.device, dtype=torch.int32)
            args = (u, u.stride(0), u.stride(1), hs, y, y.stride(0), y.stride(1), gates if store else hs, scratch)
            args += (lens, w_hh, w_hh if b_hh is None else b_hh, counter, error, B, H)
            flags = dict(RESET_AFTER=reset_after, HAS_BIAS=b_hh is not None, STORE=store, **_flags(p, u.dtype))
            grid = (p.groups, p.slices)
            if p.persistent:
                kernel[grid](0, steps, *args, PERSISTENT=True, PHASE=0, **flags)
                _check(error)
            else:
                for t in range(steps):
                    for phase in (0,) if reset_after else (0, 1):
                        kernel[grid](t, steps, *args, PERSISTENT=False, PHASE=phase, **flags)

        p = _launch_with_fallback(("forward", B, H, u.dtype, persistent), p, run)
    hs[steps + 1 :] = hs[steps]
    return y, hs, gates, p


def backward(
    dy: Tensor, dhT: Tensor, hs: Tensor, gates: Tensor, lens: Tensor, w_hh: Tensor, steps: int, reset_after: bool,
    persistent: bool,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Reverse-time recurrence: ``dA`` ``(steps, B, 3H)`` fp32, the gradients of the gates' pre-activations
    (r, z and n's input part; zero past each length), and ``dh0`` ``(B, H)`` fp32."""
    B, H = hs.shape[1], hs.shape[2]
    carry = dhT.to(torch.float32, copy=True).contiguous()
    dA = torch.empty(steps, B, 3 * H, device=hs.device, dtype=torch.float32)
    if steps == 0:
        return dA, carry
    dy = dy.contiguous()
    first = plan(B, H, hs.device, w_hh.dtype, persistent)
    kernel = device_code(hs.device.type != "cuda").bwd_kernel
    start = carry.clone()

    def run(p: Plan) -> None:
        carry.copy_(start)  # a launch that ran out of resources may have left it half-updated
        counter = torch.zeros(p.groups, device=hs.device, dtype=torch.int32)
        error = torch.zeros(1, device=hs.device, dtype=torch.int32)
        args = (dy, dy.stride(0), dy.stride(1), hs, gates, dA, carry, lens, w_hh, counter, error, B, H)
        flags = dict(RESET_AFTER=reset_after, **_flags(p, w_hh.dtype))
        grid = (p.groups, p.slices)
        if p.persistent:
            kernel[grid](steps - 1, steps, *args, PERSISTENT=True, PHASE=0, FINISH=False, **flags)
            _check(error)
            return
        for t in range(steps - 1, -1, -1):
            for phase in (0,) if reset_after else (0, 1):
                kernel[grid](t, steps, *args, PERSISTENT=False, PHASE=phase, FINISH=False, **flags)
        kernel[grid](-1, steps, *args, PERSISTENT=False, PHASE=0, FINISH=True, **flags)

    _launch_with_fallback(("backward", B, H, w_hh.dtype, persistent), first, run)
    return dA, carry
