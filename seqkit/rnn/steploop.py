"""The generic kernel's time loop as one autograd node: the step's derived forward and backward graphs run per step.

Autograd records the whole loop as one ``autograd.Function``: its forward runs the step's forward graph
(:mod:`seqkit.rnn.stepgraph`) once per step with autograd off, keeping only what the step's backward reads;
its backward runs the step's backward graph once per step in reverse, and the parameters' gradients once per
chunk of steps (:mod:`seqkit.rnn.paramgrads`). The arithmetic is the operations autograd would run for the
step as written, so results are those of the step loop up to the order in which gradients are summed. The
caller runs its plain loop where this path does not apply (:func:`wants_loop`, fewer than :data:`MIN_STEPS`
live steps, a step that cannot be derived); ``SEQKIT_GENERIC_LOOP=plain`` turns it off.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.context import ContextCell
from seqkit.rnn.paramgrads import ParamGrads, gather, split
from seqkit.rnn.stepgraph import StepGraphs, derive

# per cell: the graphs for each input signature (None where the step cannot be derived); a few per cell. Cells of
# one type with equal attributes (the same options and sizes) compute the same step, so they share an entry.
_graphs: weakref.WeakKeyDictionary[Cell, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
_shared: dict[tuple[Any, ...], dict[tuple[Any, ...], Any]] = {}
_KEEP, _SHARED = 8, 64
# Fewer live steps run the plain loop: one node's fixed cost (about 0.1 ms) outweighs what it saves below ~5 steps.
MIN_STEPS = 8
_ROWS, _STEPS = 256, 16  # the weight GEMMs take at least this many rows, from at most this many steps


_failed: weakref.WeakSet[Cell] = weakref.WeakSet()


def enabled() -> bool:
    """Whether the generic kernel may run a step loop as one autograd node (``SEQKIT_GENERIC_LOOP``)."""
    return os.environ.get("SEQKIT_GENERIC_LOOP", "node") != "plain"


def wants_loop(cell: Cell, params: Params, x: Tensor, state: State) -> bool:
    """Whether to try this path: enabled, a gradient wanted, a step not known to fail, and no tracer or transform
    (torch.compile, torch.jit.trace for export, torch.func) that should see the step's own operations."""
    if not (enabled() and torch.is_grad_enabled()) or cell in _failed or isinstance(cell, ContextCell):
        return False  # a cell given extra inputs or its position runs as written: such steps often record them
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or _autocast():
        return False
    tensors = (x, *params.values(), *state)
    if any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors):
        return False
    return any(t.requires_grad for t in tensors)


def _autocast() -> bool:
    """Under autocast the step's operations change dtype by context, which a graph traced once would not."""
    return any(torch.is_autocast_enabled(device) for device in ("cpu", "cuda"))


@dataclass(frozen=True)
class Inputs:
    """The step inputs of every step at once: each tensor has time on dimension ``dims[i]``; ``tuple_u``: the
    step takes them as a tuple (a traced split), else as the one tensor."""

    values: tuple[Tensor, ...]
    dims: tuple[int, ...]
    tuple_u: bool


def run_looped(
    cell: Cell,
    step: Callable[..., tuple[Tensor, State]],
    inputs: Inputs,
    params: Params,
    lengths: Tensor | None,
    state: State,
    live: int,
) -> tuple[Tensor, State] | None:
    """``(B, live, O)`` outputs and the final state, or None when this path cannot run the step."""
    names = tuple(params)
    tensors = (*inputs.values, *state, *(params[n] for n in names))
    counts = (len(inputs.values), len(state), len(names))
    firsts = [u.select(d, 0) for u, d in zip(inputs.values, inputs.dims)]
    key = (
        inputs.tuple_u,
        names,
        *((tuple(t.shape), t.dtype, t.device, t.requires_grad) for t in (*firsts, *tensors[counts[0] :])),
    )
    cache = graphs_of(cell)
    if key not in cache:
        if len(cache) >= _KEEP:
            cache.clear()
        chunk = min(_STEPS, max(4, -(-_ROWS // max(1, firsts[0].shape[0]))))  # steps whose rows make one weight GEMM
        h = firsts[0].new_zeros(firsts[0].shape[0], cell.output_size)  # shaped as the step's h, for its gradient
        outputs = [h, *(torch.zeros_like(s) for s in state)]
        flat = _flat(step, names, counts, inputs.tuple_u)
        cache[key] = _derive(flat, [*firsts, *tensors[counts[0] :]], counts, outputs, chunk)
    graphs, batched = cache[key]
    if graphs is None:
        _failed.add(cell)  # the plain loop from now on: tracing again would fail again
        return None
    always = live if lengths is None else int(lengths.min())
    keep = None if lengths is None else (torch.arange(live, device=lengths.device)[:, None] < lengths).unsqueeze(-1)
    plan = _Plan(graphs, batched, counts, inputs.dims, live, always, keep)
    out, *final = _Loop.apply(plan, *tensors)
    return out, tuple(final)


def graphs_of(cell: Cell) -> dict[tuple[Any, ...], Any]:
    """The cache entry of *cell*: shared by cells of its type with equal attributes, else its own."""
    try:
        key = (type(cell), tuple(sorted(vars(cell).items())))
        hash(key)
    except TypeError:  # an attribute that cannot be hashed (a tensor, a list): this cell's own entry
        return _graphs.setdefault(cell, {})
    if key not in _shared and len(_shared) >= _SHARED:
        _shared.clear()
    return _shared.setdefault(key, {})


def _derive(
    step: Callable[..., tuple[Tensor, ...]],
    inputs: list[Tensor],
    counts: tuple[int, int, int],
    outputs: list[Tensor],
    rows: int,
) -> tuple[StepGraphs | None, ParamGrads | None]:
    graphs = derive(step, inputs, counts, outputs)
    if graphs is None or rows < 2:
        return graphs, None
    width = counts[0] + counts[1]
    wide = [_widened(t, rows) if i < width else t for i, t in enumerate(inputs)]
    big = derive(step, wide, counts, [_widened(o, rows) for o in outputs])
    return graphs, None if big is None else split(graphs.cut, big.cut, rows)


def _widened(t: Tensor, steps: int) -> Tensor:
    """*t* ``(B, ...)`` as ``(steps*B, ...)`` zeros (the values do not matter: the trace runs on fake tensors)."""
    return t.new_zeros(t.shape[0] * steps, *t.shape[1:]).requires_grad_(t.requires_grad)


def _flat(
    step: Callable[..., tuple[Tensor, State]], names: tuple[str, ...], counts: tuple[int, int, int], tuple_u: bool
):
    n_u, n_state, _ = counts

    def flat(*args: Tensor) -> tuple[Tensor, ...]:
        u = tuple(args[:n_u]) if tuple_u else args[0]
        params = dict(zip(names, args[n_u + n_state :]))
        h, new = step(params, u, tuple(args[n_u : n_u + n_state]))
        return (h, *new)

    return flat


@dataclass(frozen=True)
class _Plan:
    graphs: StepGraphs
    batched: ParamGrads | None  # the parameters' gradients over all steps at once, where that is exact
    counts: tuple[int, int, int]
    dims: tuple[int, ...]
    live: int
    always: int  # steps before this need no lengths masking
    keep: Tensor | None  # (live, B, 1) bool


class _Loop(torch.autograd.Function):
    """``(plan, *u, *state, *params) -> (outputs (B, live, O), *final state)``."""

    @staticmethod
    def forward(ctx: Any, plan: _Plan, *tensors: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        n_u, n_state, _ = plan.counts
        graphs = plan.graphs
        us, state = tensors[:n_u], tuple(tensors[n_u : n_u + n_state])
        statics = tuple(
            s.contiguous() if d and isinstance(s, Tensor) else s
            for s, d in zip(graphs.prologue(*tensors[n_u + n_state :]), graphs.dense)
        )
        forward, n_out = graphs.forward, graphs.outputs
        outputs, saved = [], []
        per_step = list(zip(*(u.unbind(d)[: plan.live] for u, d in zip(us, plan.dims))))
        for t in range(plan.live):
            result = forward(*per_step[t], *state, *statics)
            h, new = result[0], result[1:n_out]
            saved.extend(result[n_out:])
            if t >= plan.always:
                keep = plan.keep[t]  # type: ignore[index]
                new = tuple(torch.where(keep, n, s) for n, s in zip(new, state))
                h = torch.where(keep, h, h.new_zeros(()))
            state = tuple(new)
            outputs.append(h)
        ctx.plan = plan
        ctx.save_for_backward(*saved, *statics)
        ctx.n_statics = len(statics)
        ctx.state_meta = [(s.shape, s.dtype, s.device) for s in tensors[n_u : n_u + n_state]]
        final = tuple(s.clone() if any(s is x for x in tensors) else s for s in state)
        ctx.mark_non_differentiable(*(s for s in final if not s.dtype.is_floating_point))
        return (torch.stack(outputs, 1), *final)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: Tensor | None, *g_final: Tensor | None) -> tuple[Tensor | None, ...]:
        plan: _Plan = ctx.plan
        graphs = plan.graphs
        n_u, n_state, n_params = plan.counts
        values = ctx.saved_tensors
        statics = values[len(values) - ctx.n_statics :]
        per_step = graphs.saved
        g_state: list[Tensor | None] = [
            (g if g is not None else torch.zeros(shape, dtype=dtype, device=device))
            if dtype.is_floating_point
            else None
            for g, (shape, dtype, device) in zip(g_final, ctx.state_meta)
        ]
        diff = graphs.in_diff
        g_u: list[list[Tensor | None]] = [[] for _ in range(n_u)]
        g_params: list[Tensor | None] = [None] * n_params
        batched = plan.batched
        backward = graphs.backward if batched is None else batched.recurrent
        fronts: list[tuple[Tensor, ...]] = []
        g_hs = g_out.unbind(1)  # autograd materialises unused outputs' gradients as zeros
        carried = n_u + n_state
        # the common case: every output and carried input differentiable, float states, weight GEMMs batched
        simple = (
            batched is not None and all(graphs.out_diff) and all(diff[:carried]) and all(g is not None for g in g_state)
        )
        for t in reversed(range(plan.live)):
            if simple and t < plan.always:
                results = backward(*values[t * per_step : (t + 1) * per_step], *statics, g_hs[t], *g_state)
                if all(r is not None for r in results[:carried]):  # `in` would compare tensors
                    for i in range(n_u):
                        g_u[i].append(results[i])
                    g_state = list(results[n_u:carried])
                    fronts.append(results[carried:])
                    if len(fronts) == batched.steps or t == 0:  # type: ignore[union-attr]
                        g_params = _flush(batched, fronts, g_params, diff[carried:])  # type: ignore[arg-type]
                        fronts = []
                    continue
                # a gradient is None at this step: the general path below redoes it
            g_h = g_hs[t]
            passed: list[Tensor | None] = [None] * n_state
            tangents_state = list(g_state)
            if t >= plan.always:
                keep = plan.keep[t]  # type: ignore[index]
                g_h = torch.where(keep, g_h, g_h.new_zeros(()))
                for k, g in enumerate(g_state):
                    if g is not None:
                        tangents_state[k] = torch.where(keep, g, g.new_zeros(()))
                        passed[k] = torch.where(keep, g.new_zeros(()), g)  # a finished row's state passes through
            tangents = [g for g, d in zip((g_h, *tangents_state), graphs.out_diff) if d]
            results = backward(*values[t * per_step : (t + 1) * per_step], *statics, *tangents)
            if batched is not None:
                fronts.append(results[batched.leading :])
                if len(fronts) == batched.steps or t == 0:  # a chunk of steps' rows: their weight gradients at once
                    g_params = _flush(batched, fronts, g_params, diff[carried:])
                    fronts = []
            grads = iter(results)
            taken = [next(grads) if d and (batched is None or i < n_u + n_state) else None for i, d in enumerate(diff)]
            for i in range(n_u):
                g_u[i].append(taken[i])
            for k in range(n_state):
                if g_state[k] is not None:
                    g = taken[n_u + k]
                    g = g if g is not None else torch.zeros_like(g_state[k])
                    g_state[k] = g if passed[k] is None else g + passed[k]
            for j, g in enumerate(taken[n_u + n_state :]):
                if g is not None:
                    g_params[j] = g.clone() if g_params[j] is None else g_params[j].add_(g)  # type: ignore[union-attr]
        u_grads = [
            _stacked(parts[::-1], d) if ctx.needs_input_grad[1 + i] else None
            for i, (parts, d) in enumerate(zip(g_u, plan.dims))
        ]
        return (None, *u_grads, *g_state, *g_params)


def _flush(
    batched: ParamGrads, fronts: list[tuple[Tensor, ...]], g_params: list[Tensor | None], wanted: Sequence[bool]
) -> list[Tensor | None]:
    """*g_params* plus the parameters' gradients of the steps in *fronts*, computed at once."""
    found = iter(batched.once(*gather(batched.kinds, fronts, batched.steps)))
    return [_sum(g, next(found)) if d else g for g, d in zip(g_params, wanted)]


def _sum(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a.add_(b)


def _stacked(parts: Sequence[Tensor | None], dim: int) -> Tensor | None:
    if all(p is None for p in parts):
        return None
    like = next(p for p in parts if p is not None)
    return torch.stack([p if p is not None else torch.zeros_like(like) for p in parts], dim)
