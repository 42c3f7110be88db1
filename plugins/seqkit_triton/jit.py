"""Triton device code for the GRU: one time step's math, and the persistent and per-step kernels built on it."""

# Loaded by seqkit_triton.loader once per mode (compiled for the GPU, or Triton's interpreter on CPU), so a
# process can hold both. Layouts, all row-major: u (B, T, 3H) input projection; hs (T+1, B, H) fp32 states,
# hs[0] = h0; y (B, T, H); gates (T, B, 4H) fp32 (r, z, n, and W_hn h + b_hn for reset_after); scratch (B, 2H)
# fp32 (reset_before: r*h, z); dA (T, B, 3H) fp32 gradients of the gates' pre-activations; carry (B, H) fp32.
# A program owns a group of BB batch rows and a slice of BH hidden units; HP is H rounded up to a power of two.
import triton
import triton.language as tl


@triton.jit
def _sigmoid(x):
    # not tl.sigmoid: Triton's own library functions are decorated when triton is imported, for one mode only
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def _tanh(x):
    # tanh from sigmoid: exact enough in fp32, and needs no libdevice (the interpreter has none)
    return 2.0 * _sigmoid(2.0 * x) - 1.0


@triton.jit
def _tile(w, gate, H, ks, kmask, cols, cmask, ROWS: tl.constexpr):
    """A (HP, BH) tile of weight_hh's gate block: [k, c] = W[gate*H + c, k] (ROWS) or W[gate*H + k, c]."""
    mask = kmask[:, None] & cmask[None, :]
    if ROWS:  # one return per function: Triton's compiler does not take early returns everywhere
        tile = tl.load(w + (gate * H + cols[None, :]) * H + ks[:, None], mask=mask, other=0.0)
    else:
        tile = tl.load(w + (gate * H + ks[:, None]) * H + cols[None, :], mask=mask, other=0.0)
    return tile


@triton.jit
def _bias(b, gate, H, cols, cmask, HAS_BIAS: tl.constexpr):
    zero = cols.to(tl.float32) * 0.0
    return tl.load(b + gate * H + cols, mask=cmask, other=0.0).to(tl.float32) if HAS_BIAS else zero


@triton.jit
def _mm(a, tile, IEEE: tl.constexpr):
    """(BB, HP) fp32 @ (HP, BH) tile -> (BB, BH) fp32; operands in the weights' dtype, fp32 ones without TF32."""
    return tl.dot(a.to(tile.dtype), tile, input_precision="ieee" if IEEE else None)


@triton.jit
def _barrier(counter, error, target, MAX_SPIN: tl.constexpr):
    """Wait until the group's counter reaches *target*: release our stores, acquire everyone else's.

    The spin is bounded: if the programs of a group are not all resident, waiting forever would hang the GPU,
    so the kernel flags an error (the host raises) and carries on with wrong values instead.
    """
    tl.debug_barrier()  # all of this program's threads have issued their stores before the release
    tl.atomic_add(counter, 1, sem="release", scope="gpu")
    spins = 0
    while (tl.atomic_add(counter, 0, sem="acquire", scope="gpu") < target) & (spins < MAX_SPIN):
        spins += 1
    if spins >= MAX_SPIN:
        tl.atomic_xchg(error, 1)
    tl.debug_barrier()


@triton.jit
def _fwd_phase(t, PHASE: tl.constexpr, u, s_ub, s_ut, hs, y, s_yb, s_yt, gates, scratch, lens, wr, wz, wn,
               br, bz, bn, B, H, rows, rmask, cols, cmask, ks, kmask,
               RESET_AFTER: tl.constexpr, STORE: tl.constexpr, IEEE: tl.constexpr):  # fmt: skip
    """Forward step t. reset_after: one phase. reset_before: phase 0 (r, z, r*h), then phase 1 (n, h')."""
    m = rmask[:, None] & cmask[None, :]
    mk = rmask[:, None] & kmask[None, :]
    here = rows[:, None] * H + cols[None, :]
    h = tl.load(hs + t * B * H + here, mask=m, other=0.0)
    ub = u + rows[:, None] * s_ub + t * s_ut + cols[None, :]
    g4 = gates + t * B * 4 * H + rows[:, None] * 4 * H + cols[None, :]
    sc = scratch + rows[:, None] * 2 * H
    if PHASE == 0:
        h_all = tl.load(hs + t * B * H + rows[:, None] * H + ks[None, :], mask=mk, other=0.0)
        r = _sigmoid(tl.load(ub, mask=m, other=0.0).to(tl.float32) + _mm(h_all, wr, IEEE) + br[None, :])
        z = _sigmoid(tl.load(ub + H, mask=m, other=0.0).to(tl.float32) + _mm(h_all, wz, IEEE) + bz[None, :])
        if STORE:
            tl.store(g4, r, mask=m)
            tl.store(g4 + H, z, mask=m)
        if RESET_AFTER:
            gn = _mm(h_all, wn, IEEE) + bn[None, :]
            n = _tanh(tl.load(ub + 2 * H, mask=m, other=0.0).to(tl.float32) + r * gn)
        else:  # W_hn needs r*h of every hidden unit: hand it over through scratch, finish in phase 1
            tl.store(sc + cols[None, :], r * h, mask=m)
            tl.store(sc + H + cols[None, :], z, mask=m)
    else:
        z = tl.load(sc + H + cols[None, :], mask=m, other=0.0)
        gn = _mm(tl.load(sc + ks[None, :], mask=mk, other=0.0), wn, IEEE) + bn[None, :]
        n = _tanh(tl.load(ub + 2 * H, mask=m, other=0.0).to(tl.float32) + gn)
    if RESET_AFTER or PHASE == 1:
        if STORE:
            tl.store(g4 + 2 * H, n, mask=m)
            tl.store(g4 + 3 * H, gn, mask=m)
        active = (t < tl.load(lens + rows, mask=rmask, other=0))[:, None]
        h_new = tl.where(active, n + z * (h - n), h)  # past its end a sequence keeps its state
        tl.store(hs + (t + 1) * B * H + here, h_new, mask=m)
        tl.store(y + rows[:, None] * s_yb + t * s_yt + cols[None, :], tl.where(active, h_new, 0.0), mask=m)


@triton.jit
def _bwd_phase(t, T, PHASE: tl.constexpr, dy, s_yb, s_yt, hs, gates, dA, carry, lens, vr, vz, vn, B, H,
               rows, rmask, cols, cmask, ks, kmask,
               RESET_AFTER: tl.constexpr, FINISH: tl.constexpr, IEEE: tl.constexpr):  # fmt: skip
    """Backward step t, from T-1 down; FINISH (t = -1) only completes dh0 into carry. v*: (HP, BH) column tiles.

    Phase 0 completes dh_t = carry + dA_{t+1} @ W_hh + dy_t and writes dA_t (reset_after: all of it;
    reset_before: dA_n, keeping dh_t in carry); reset_before's phase 1 adds r's path through q = r*h.
    carry leaves each step holding what flows to h_{t-1} other than through the gates' matmul.
    """
    m = rmask[:, None] & cmask[None, :]
    mk = rmask[:, None] & kmask[None, :]
    here = rows[:, None] * H + cols[None, :]
    dA_t = dA + t * B * 3 * H + rows[:, None] * 3 * H
    g4 = gates + t * B * 4 * H + rows[:, None] * 4 * H + cols[None, :]
    active = (t < tl.load(lens + rows, mask=rmask, other=0))[:, None]
    dh = tl.load(carry + here, mask=m, other=0.0)
    if PHASE == 0:  # noqa: SIM102 - a compile-time test around a run-time one; Triton keeps them apart
        if t + 1 < T:
            nxt = dA_t + 3 * B * H + ks[None, :]  # dA_{t+1}, every hidden unit
            dh += _mm(tl.load(nxt, mask=mk, other=0.0), vr, IEEE)
            dh += _mm(tl.load(nxt + H, mask=mk, other=0.0), vz, IEEE)
            if RESET_AFTER:  # g_n = W_hn h + b_hn enters as r * g_n
                r_next = tl.load(gates + (t + 1) * B * 4 * H + rows[:, None] * 4 * H + ks[None, :], mask=mk, other=0.0)
                dh += _mm(tl.load(nxt + 2 * H, mask=mk, other=0.0) * r_next, vn, IEEE)
    if FINISH:
        tl.store(carry + here, dh, mask=m)
    else:
        r = tl.load(g4, mask=m, other=0.0)
        z = tl.load(g4 + H, mask=m, other=0.0)
        n = tl.load(g4 + 2 * H, mask=m, other=0.0)
        h = tl.load(hs + t * B * H + here, mask=m, other=0.0)
        if PHASE == 0:
            dy_t = tl.load(dy + rows[:, None] * s_yb + t * s_yt + cols[None, :], mask=m, other=0.0)
            dh += tl.where(active, dy_t.to(tl.float32), 0.0)
            dan = tl.where(active, dh * (1.0 - z) * (1.0 - n * n), 0.0)
            tl.store(dA_t + 2 * H + cols[None, :], dan, mask=m)
            if RESET_AFTER:
                dr = dan * tl.load(g4 + 3 * H, mask=m, other=0.0)
                keep = dh * z
            else:
                keep = dh  # phase 1 needs dh_t itself
        else:  # reset_before, once every dA_n of step t is written
            dq = _mm(tl.load(dA_t + 2 * H + ks[None, :], mask=mk, other=0.0), vn, IEEE)
            dr = dq * h
            keep = dh * z + dq * r
        if RESET_AFTER or PHASE == 1:
            tl.store(dA_t + cols[None, :], tl.where(active, dr * r * (1.0 - r), 0.0), mask=m)
            tl.store(dA_t + H + cols[None, :], tl.where(active, dh * (h - n) * z * (1.0 - z), 0.0), mask=m)
            keep = tl.where(active, keep, dh)  # past its end the gradient passes through unchanged
        tl.store(carry + here, keep, mask=m)


@triton.jit
def _block(B, H, BB: tl.constexpr, BH: tl.constexpr, HP: tl.constexpr):
    rows = tl.program_id(0) * BB + tl.arange(0, BB)
    cols = tl.program_id(1) * BH + tl.arange(0, BH)
    ks = tl.arange(0, HP)
    return rows, rows < B, cols, cols < H, ks, ks < H


@triton.jit
def fwd_kernel(t0, T, u, s_ub, s_ut, hs, y, s_yb, s_yt, gates, scratch, lens, w, b, counter, error, B, H,
               PERSISTENT: tl.constexpr, PHASE: tl.constexpr, RESET_AFTER: tl.constexpr, HAS_BIAS: tl.constexpr,
               STORE: tl.constexpr, IEEE: tl.constexpr, MAX_SPIN: tl.constexpr,
               BB: tl.constexpr, BH: tl.constexpr, HP: tl.constexpr):  # fmt: skip
    """PERSISTENT: steps t0..T-1 in one launch, W_hh's slice held on chip. Else: phase PHASE of step t0."""
    rows, rmask, cols, cmask, ks, kmask = _block(B, H, BB, BH, HP)
    wr = _tile(w, 0, H, ks, kmask, cols, cmask, True)
    wz = _tile(w, 1, H, ks, kmask, cols, cmask, True)
    wn = _tile(w, 2, H, ks, kmask, cols, cmask, True)
    br = _bias(b, 0, H, cols, cmask, HAS_BIAS)
    bz = _bias(b, 1, H, cols, cmask, HAS_BIAS)
    bn = _bias(b, 2, H, cols, cmask, HAS_BIAS)
    if PERSISTENT:
        slices = tl.num_programs(1)
        group = counter + tl.program_id(0)
        arrived = 0
        for t in range(t0, T):
            for phase in tl.static_range(1 if RESET_AFTER else 2):
                _fwd_phase(t, phase, u, s_ub, s_ut, hs, y, s_yb, s_yt, gates, scratch, lens, wr, wz, wn, br, bz, bn,
                           B, H, rows, rmask, cols, cmask, ks, kmask, RESET_AFTER, STORE, IEEE)  # fmt: skip
                arrived += slices
                _barrier(group, error, arrived, MAX_SPIN)
    else:
        _fwd_phase(t0, PHASE, u, s_ub, s_ut, hs, y, s_yb, s_yt, gates, scratch, lens, wr, wz, wn, br, bz, bn,
                   B, H, rows, rmask, cols, cmask, ks, kmask, RESET_AFTER, STORE, IEEE)  # fmt: skip


@triton.jit
def bwd_kernel(t0, T, dy, s_yb, s_yt, hs, gates, dA, carry, lens, w, counter, error, B, H,
               PERSISTENT: tl.constexpr, PHASE: tl.constexpr, RESET_AFTER: tl.constexpr, FINISH: tl.constexpr,
               IEEE: tl.constexpr, MAX_SPIN: tl.constexpr,
               BB: tl.constexpr, BH: tl.constexpr, HP: tl.constexpr):  # fmt: skip
    """PERSISTENT: steps t0 down to 0, then dh0, in one launch. Else: phase PHASE of step t0 (FINISH: dh0)."""
    rows, rmask, cols, cmask, ks, kmask = _block(B, H, BB, BH, HP)
    vr = _tile(w, 0, H, ks, kmask, cols, cmask, False)
    vz = _tile(w, 1, H, ks, kmask, cols, cmask, False)
    vn = _tile(w, 2, H, ks, kmask, cols, cmask, False)
    if PERSISTENT:
        slices = tl.num_programs(1)
        group = counter + tl.program_id(0)
        arrived = 0
        for i in range(0, t0 + 1):
            for phase in tl.static_range(1 if RESET_AFTER else 2):
                _bwd_phase(t0 - i, T, phase, dy, s_yb, s_yt, hs, gates, dA, carry, lens, vr, vz, vn, B, H,
                           rows, rmask, cols, cmask, ks, kmask, RESET_AFTER, False, IEEE)  # fmt: skip
                arrived += slices
                _barrier(group, error, arrived, MAX_SPIN)
        _bwd_phase(-1, T, 0, dy, s_yb, s_yt, hs, gates, dA, carry, lens, vr, vz, vn, B, H,
                   rows, rmask, cols, cmask, ks, kmask, RESET_AFTER, True, IEEE)  # fmt: skip
    else:
        _bwd_phase(t0, T, PHASE, dy, s_yb, s_yt, hs, gates, dA, carry, lens, vr, vz, vn, B, H,
                   rows, rmask, cols, cmask, ks, kmask, RESET_AFTER, FINISH, IEEE)  # fmt: skip
