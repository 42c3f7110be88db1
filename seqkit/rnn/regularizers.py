"""Training-time regularisers for any cell: zoneout, variational recurrent dropout, DropConnect on recurrent weights.

All three act only in training mode and are exact no-ops in eval mode (the layer then computes the plain
cell, bit for bit, on whichever kernel it chooses). For zoneout that is a deliberate departure from Krueger
et al., 2016, who keep the expectation at test time (h' = p·h + (1−p)·new); the plain cell lets the same
layer run every fused kernel (native, cuDNN, Triton, oneDNN) at inference. Masks are drawn from torch's
global generator, so seeding (and exact resume, which reseeds per batch) covers them.

- ``zoneout`` p: at every step each unit of every state component keeps its previous value with
  probability p (a fresh mask per step); the output at that step is the zoned-out h.
- ``recurrent_dropout`` p (Gal & Ghahramani, 2016): one Bernoulli(1−p)/(1−p) mask per sequence, layer
  and direction, fixed across time, on the h that enters the recurrent computation.
- ``weight_drop`` p (Merity et al., 2017): one Bernoulli(1−p)/(1−p) mask per forward call over each
  recurrent matrix (``Cell.recurrent_parameters``); it changes only the weights, so every kernel runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.lengths import by_direction
from seqkit.rnn.options import checked, names

# the layer options (create_rnn's keywords, recipes' model.cell keys) this module reads
REGULARIZER_KEYS = names("regularizer")


@dataclass(frozen=True)
class Regularizers:
    """The probabilities of :data:`REGULARIZER_KEYS`; 0 turns one off."""

    zoneout: float = 0.0
    recurrent_dropout: float = 0.0
    weight_drop: float = 0.0

    @property
    def per_step(self) -> bool:
        """Whether a training run needs the step loop (masks that change per step or per sequence)."""
        return self.zoneout > 0 or self.recurrent_dropout > 0

    @property
    def active(self) -> bool:
        return self.per_step or self.weight_drop > 0

    def names(self, *, per_step: bool = False) -> list[str]:
        """The names of the regularisers that are on (only those that need the step loop, with *per_step*)."""
        keys = ("zoneout", "recurrent_dropout") if per_step else REGULARIZER_KEYS
        return [key for key in keys if getattr(self, key) > 0]


def regularizers(values: Mapping[str, Any]) -> Regularizers:
    """Checked :class:`Regularizers` from the ``regularizer`` options (:data:`REGULARIZER_KEYS`) in *values*."""
    return Regularizers(**checked({k: v for k, v in values.items() if k in REGULARIZER_KEYS}))


def scaled_mask(shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
    """Bernoulli(1−p) / (1−p) of *shape* on *like*'s device and dtype: an inverted-dropout mask, mean 1."""
    return torch.empty(shape, device=like.device, dtype=like.dtype).bernoulli_(1 - p) / (1 - p)


def drop_weights(cell: Cell, params: Params, p: float) -> Params:
    """*params* with each recurrent matrix multiplied by a fresh :func:`scaled_mask` (DropConnect)."""
    if p <= 0:
        return params
    recurrent = set(cell.recurrent_parameters())
    return {name: w * scaled_mask(tuple(w.shape), p, w) if name in recurrent else w for name, w in params.items()}


def regularized_step(
    cell: Cell,
    params: Params,
    u_t: Any,
    state: State,
    mask: Tensor | None,
    zoneout: float,
    step: Callable[[Params, Any, State], tuple[Tensor, State]] | None = None,
) -> tuple[Tensor, State]:
    """One step of *cell* with a recurrent-dropout *mask* ``(B, S_0)`` (or None) and *zoneout* probability.

    *step* is how the cell's step runs (the generic kernel's traced split of a step-only cell); by default
    ``cell.step`` itself, which alone can take the mask where the cell opts in.
    """
    run = step or cell.step
    if mask is None:
        h, new = run(params, u_t, state)
    elif cell.takes_recurrent_mask and step is None:
        h, new = cell.step(params, u_t, state, recurrent_mask=mask)  # type: ignore[call-arg]
    else:  # a cell that has not opted in: the mask applies to the first state component it is given
        h, new = run(params, u_t, (state[0] * mask, *state[1:]))
    new = tuple(new)
    if zoneout > 0:
        # where, not a blend: a kept unit equals its previous value exactly, and its gradient flows to it alone
        zoned = tuple(torch.where(torch.rand_like(n) < zoneout, s, n) for s, n in zip(state, new))
        # the output is the zoned-out h where the cell's output is its first state component (every built-in)
        h = zoned[0] if h is new[0] else h
        new = zoned
    return h, new


def recurrent_mask(cell: Cell, batch: int, p: float, like: Tensor) -> Tensor | None:
    """One variational mask ``(B, S_0)`` for a sequence batch, or None when *p* is 0."""
    return scaled_mask((batch, cell.state_sizes[0]), p, like) if p > 0 else None


def run_regularized(
    cell: Cell,
    weights: Sequence[Params],
    x: Tensor,
    lengths: Tensor | None,
    state: State,
    regs: Regularizers,
    *,
    traced: bool = True,
) -> tuple[Tensor, State]:
    """One layer (every direction) through the generic kernel's loop with zoneout and recurrent dropout;
    *traced* False runs ``cell.step`` as written, never its traced split (``backend='reference'``).

    Shapes as ``KernelSpec.run``. Each direction draws its own masks. Past a sequence's end its state stops
    changing and its outputs are zero, as in :func:`seqkit.rnn.reference.run_reference`, whatever the masks say.
    """
    from seqkit.rnn.generic import plan, scan  # the generic kernel imports the core, which imports this module

    # the mask goes inside cell.step where the cell takes it: never the traced split of a step-only cell then
    project, step = plan(cell, traced=traced and not cell.takes_recurrent_mask)
    own_step = None if step == cell.step else step  # bound methods: equal, never identical

    def scan_direction(d: int, inputs: Tensor) -> tuple[Tensor, State]:
        mask = recurrent_mask(cell, inputs.shape[0], regs.recurrent_dropout, inputs)

        def masked(params: Params, u_t: Any, current: State) -> tuple[Tensor, State]:
            return regularized_step(cell, params, u_t, current, mask, regs.zoneout, own_step)

        return scan(project, masked, cell, weights[d], inputs, lengths, tuple(s[d] for s in state))

    output, finals = by_direction(len(weights), x, lengths, scan_direction)
    return output, tuple(torch.stack(parts) for parts in zip(*finals))
