"""The time-parallel parts of the backward pass: recomputed gates and the weight and input gradients as GEMMs."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def recompute_gates(u: Tensor, hs: Tensor, w_hh: Tensor, b_hh: Tensor | None, reset_after: bool) -> Tensor:
    """The gates the forward kernel would have stored, ``(T, B, 4H)`` fp32, from ``u`` ``(T, B, 3H)`` and ``hs``.

    Every state is known after the forward pass, so this is a few GEMMs over all steps at once rather than a
    recurrence: keeping only ``hs`` (not 4 more fp32 values per unit and step) trades it for a fifth of the memory.
    """
    H = hs.shape[2]
    h = hs[: u.shape[0]]
    w, b = w_hh.float(), None if b_hh is None else b_hh.float()
    g_rz = F.linear(h, w[: 2 * H], None if b is None else b[: 2 * H])
    r = torch.sigmoid(u[..., :H] + g_rz[..., :H])
    z = torch.sigmoid(u[..., H : 2 * H] + g_rz[..., H:])
    if reset_after:
        g_n = F.linear(h, w[2 * H :], None if b is None else b[2 * H :])
        n = torch.tanh(u[..., 2 * H :] + r * g_n)
    else:
        g_n = F.linear(r * h, w[2 * H :], None if b is None else b[2 * H :])
        n = torch.tanh(u[..., 2 * H :] + g_n)
    return torch.cat([r, z, n, g_n], dim=-1)


def parameter_grads(
    dA: Tensor, hs: Tensor, gates: Tensor, x: Tensor, w_ih: Tensor, reset_after: bool, bias: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
    """``dx``, ``dW_ih``, ``dW_hh``, ``db_ih``, ``db_hh`` from ``dA`` ``(S, B, 3H)`` (S steps ran, S <= T).

    Plain sums over time and batch in fixed order: no atomics, so the result is deterministic.
    """
    steps, H = dA.shape[0], hs.shape[2]
    h = hs[:steps]
    if reset_after:  # the recurrent n-part enters as r * (W_hn h + b_hn)
        dG = torch.cat([dA[..., : 2 * H], dA[..., 2 * H :] * gates[:steps, :, :H]], dim=-1)
        dw_hh = torch.einsum("tbg,tbk->gk", dG, h)
    else:  # the recurrent n-part reads q = r * h
        dG = dA
        q = gates[:steps, :, :H] * h
        dw_hh = torch.cat(
            [torch.einsum("tbg,tbk->gk", dA[..., : 2 * H], h), torch.einsum("tbg,tbk->gk", dA[..., 2 * H :], q)]
        )
    xs = x[:, :steps].float()
    dx = torch.zeros_like(x)
    dx[:, :steps] = torch.einsum("tbg,gi->bti", dA, w_ih.float()).to(x.dtype)
    dw_ih = torch.einsum("tbg,bti->gi", dA, xs)
    db_ih = dA.sum((0, 1)) if bias else None
    db_hh = dG.sum((0, 1)) if bias else None
    return dx, dw_ih, dw_hh, db_ih, db_hh
