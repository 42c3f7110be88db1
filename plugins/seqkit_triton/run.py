"""``KernelSpec.run`` for the Triton GRU: each direction of a layer is one call of the ``seqkit_triton::gru`` op."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from seqkit import Cell, Params, State, by_direction

RECOMPUTE = "SEQKIT_TRITON_RECOMPUTE"


def recompute_gates() -> bool:
    """``SEQKIT_TRITON_RECOMPUTE=1``: keep only the states between passes and recompute the gates in backward."""
    return os.environ.get(RECOMPUTE, "").strip().lower() in ("1", "true", "yes", "on")


def runner(persistent: bool) -> Callable[[Cell, Sequence[Params], Tensor, Tensor | None, State], tuple[Tensor, State]]:
    """``run`` of ``triton`` (*persistent*: one launch per layer where it fits) or ``triton_step``."""

    def run(cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State):
        from seqkit_triton import op  # registers the custom ops on first use

        recompute = recompute_gates()

        def scan(d: int, inputs: Tensor) -> tuple[Tensor, Tensor]:
            p, h0 = weights[d], state[0][d]
            wanted = [inputs, h0, *p.values()]
            store = not recompute and torch.is_grad_enabled() and any(t.requires_grad for t in wanted)
            args = (p["weight_ih"], p["weight_hh"], p.get("bias_ih"), p.get("bias_hh"), h0, lengths)
            y, h_last, _, _ = op.gru(inputs, *args, cell.reset_after, persistent, store)
            return y, h_last

        out, finals = by_direction(len(weights), x, lengths, scan)
        return out, (torch.stack(finals),)

    return run


# What the plugin registers, by name ("seqkit_triton.run:run_persistent"), imported on first use only.
run_persistent = runner(persistent=True)
run_per_step = runner(persistent=False)
