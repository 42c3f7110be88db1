"""The autograd node of the generic kernel's time loop: per-step forward and backward graphs, weight GEMMs per chunk.

:mod:`seqkit.rnn.steploop` decides where it runs and derives the graphs; this module runs them. Forward: the
prologue once, then the step's forward graph per step with autograd off, lengths masking as the plain loop
does it. Backward: the step's backward graph per step in reverse, the rows the weight gradients need gathered
and their GEMMs run once per chunk of steps (:mod:`seqkit.rnn.paramgrads`). Where the step's graphs are compiled,
the backward writes each step's input gradient and weight rows where they go (:mod:`seqkit.rnn.writeinto`);
otherwise they are copied there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqkit.rnn.paramgrads import ROWS, ParamGrads, gather
from seqkit.rnn.stepgraph import StepGraphs


@dataclass(frozen=True)
class Plan:
    """What one run of the loop needs: the step's graphs, the counts of ``(*u, *state, *params)``, each
    input's time dimension, the live steps and the lengths mask."""

    graphs: StepGraphs
    batched: ParamGrads | None  # the parameters' gradients over all steps at once, where that is exact
    counts: tuple[int, int, int]
    dims: tuple[int, ...]
    live: int
    always: int  # steps before this need no lengths masking
    keep: Tensor | None  # (live, B, 1) bool


class Loop(torch.autograd.Function):
    """``(plan, *u, *state, *params) -> (outputs (B, live, O), *final state)``."""

    @staticmethod
    def forward(ctx: Any, plan: Plan, *tensors: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
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
        # the parameters too, though backward reads only what the prologue made of them (a packed copy): so autograd
        # still refuses a backward after one of them changed in place, as it does for the step loop
        params = tensors[n_u + n_state :]
        ctx.save_for_backward(*saved, *statics, *params)
        ctx.n_statics, ctx.n_params = len(statics), len(params)
        ctx.state_meta = [(s.shape, s.dtype, s.device) for s in tensors[n_u : n_u + n_state]]
        # each step input's gradient: shaped as the per-step parts stacked along the input's time dimension
        ctx.u_meta = [((*u.shape[:d], plan.live, *u.shape[d + 1 :]), u.dtype, u.device) for u, d in zip(us, plan.dims)]
        final = tuple(s.clone() if any(s is x for x in tensors) else s for s in state)
        ctx.mark_non_differentiable(*(s for s in final if not s.dtype.is_floating_point))
        return (torch.stack(outputs, 1), *final)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: Tensor | None, *g_final: Tensor | None) -> tuple[Tensor | None, ...]:
        plan: Plan = ctx.plan
        graphs = plan.graphs
        n_u, n_state, n_params = plan.counts
        values = ctx.saved_tensors[: len(ctx.saved_tensors) - ctx.n_params]  # unpacking checks the parameters' versions
        statics = values[len(values) - ctx.n_statics :]
        per_step = graphs.saved
        g_state: list[Tensor | None] = [
            (g if g is not None else torch.zeros(shape, dtype=dtype, device=device))
            if dtype.is_floating_point
            else None
            for g, (shape, dtype, device) in zip(g_final, ctx.state_meta)
        ]
        diff = graphs.in_diff
        g_u = [
            _Stacked(meta, d) if ctx.needs_input_grad[1 + i] else None
            for i, (meta, d) in enumerate(zip(ctx.u_meta, plan.dims))
        ]
        g_params = _Sums(n_params)
        batched = plan.batched
        backward = graphs.backward if batched is None else batched.recurrent
        chunk = None if batched is None else _Chunk(batched, g_out.device)
        g_hs = g_out.unbind(1)  # autograd materialises unused outputs' gradients as zeros
        carried = n_u + n_state
        # the common case: every output and carried input differentiable, float states, weight GEMMs batched
        simple = (
            batched is not None and all(graphs.out_diff) and all(diff[:carried]) and all(g is not None for g in g_state)
        )
        # ... and a graph that writes the input gradients and the frontier's rows where they go
        writing = batched.writing if simple and all(s is not None for s in g_u) else None  # type: ignore[union-attr]
        for t in reversed(range(plan.live)):
            if writing is not None and t < plan.always:
                into = [*(stacked.slot(t) for stacked in g_u), *chunk.slots()]  # type: ignore[union-attr]
                results = writing(*values[t * per_step : (t + 1) * per_step], *statics, g_hs[t], *g_state, *into)
                g_state = list(results[:n_state])
                chunk.add_written(results[n_state : n_state + chunk.others])  # type: ignore[union-attr]
                if chunk.full() or t == 0:  # type: ignore[union-attr]
                    chunk.flush(g_params, diff[carried:])  # type: ignore[union-attr]
                continue
            if simple and t < plan.always:
                results = backward(*values[t * per_step : (t + 1) * per_step], *statics, g_hs[t], *g_state)
                if all(r is not None for r in results[:carried]):  # `in` would compare tensors
                    for i, stacked in enumerate(g_u):
                        if stacked is not None:
                            stacked.put(t, results[i])
                    g_state = list(results[n_u:carried])
                    chunk.add(results[carried:])  # type: ignore[union-attr]
                    if chunk.full() or t == 0:  # type: ignore[union-attr]
                        chunk.flush(g_params, diff[carried:])  # type: ignore[union-attr]
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
            if chunk is not None:
                chunk.add(results[chunk.batched.leading :])
                if chunk.full() or t == 0:  # a chunk of steps' rows: their weight gradients at once
                    chunk.flush(g_params, diff[carried:])
            grads = iter(results)
            taken = [next(grads) if d and (batched is None or i < n_u + n_state) else None for i, d in enumerate(diff)]
            for i, stacked in enumerate(g_u):
                if stacked is not None:
                    stacked.put(t, taken[i])
            for k in range(n_state):
                if g_state[k] is not None:
                    g = taken[n_u + k]
                    g = g if g is not None else torch.zeros_like(g_state[k])
                    g_state[k] = g if passed[k] is None else g + passed[k]
            for j, g in enumerate(taken[n_u + n_state :]):
                g_params.add(j, g)
        return (None, *(None if stacked is None else stacked.value() for stacked in g_u), *g_state, *g_params.values)


class _Chunk:
    """The frontier of a chunk of steps, gathered for the parameters' gradients of those steps at once: each step's
    rows in their own slice of one tensor per value (copied there, or written there by the step's graph), the other
    values kept per step."""

    def __init__(self, batched: ParamGrads, device: torch.device) -> None:
        self.batched, self.device = batched, device
        self.rows = [k for k, kind in enumerate(batched.kinds) if kind == ROWS]
        self.others = len(batched.kinds) - len(self.rows)  # the values kept per step, in frontier order
        self.per_step = [batched.fronts[k][0][0] for k in self.rows]  # rows a step adds to each
        self.buffers: list[Tensor] | None = None
        self.count = 0  # steps in this chunk so far
        self.kept: list[tuple[Tensor, ...]] = []

    def slots(self) -> list[Tensor]:
        """Where the next step's rows go, one view per rows value; the step counts as added."""
        if self.buffers is None:
            steps = self.batched.steps
            shapes = [self.batched.fronts[k] for k in self.rows]
            self.buffers = [torch.empty((s[0] * steps, *s[1:]), dtype=d, device=self.device) for s, d in shapes]
        views = [b.narrow(0, self.count * n, n) for b, n in zip(self.buffers, self.per_step)]
        self.count += 1
        return views

    def add_written(self, others: Sequence[Tensor]) -> None:
        """The step whose rows were written into :meth:`slots`' views: its other frontier values."""
        self.kept.append(tuple(others))

    def add(self, front: Sequence[Tensor]) -> None:
        """One step's whole frontier (as the step's graph returns it)."""
        for view, k in zip(self.slots(), self.rows):
            view.copy_(front[k])
        self.kept.append(tuple(v for k, v in enumerate(front) if k not in self.rows))

    def full(self) -> bool:
        return self.count == self.batched.steps

    def flush(self, sums: _Sums, wanted: Sequence[bool]) -> None:
        """Add the parameters' gradients of the chunk's steps, computed at once, to *sums*; start a new chunk."""
        batched, buffers = self.batched, self.buffers or []
        for b, n in zip(buffers, self.per_step):  # a chunk of fewer steps: the rest of its rows are zero
            b[self.count * n :].zero_()
        others = iter(gather([k for k in batched.kinds if k != ROWS], self.kept, batched.steps))
        rows = iter(buffers)
        values = [next(rows) if kind == ROWS else next(others) for kind in batched.kinds]
        found = iter(batched.once(*values))
        for j, d in enumerate(wanted):
            if d:
                sums.add(j, next(found))
        # fresh tensors for the next chunk: what once returned may be a view of these, and a sum may hold it
        self.buffers, self.count, self.kept = None, 0, []


class _Sums:
    """The parameters' gradients, summed over steps or chunks of steps. A graph may return one tensor as the
    gradient of several parameters (a layer norm's bias and the bias added to it get the same sum) or one it still
    holds, so a sum is added to in place only once it is a tensor of its own: the first addition makes it one."""

    def __init__(self, count: int) -> None:
        self.values: list[Tensor | None] = [None] * count
        self.owned = [False] * count

    def add(self, j: int, g: Tensor | None) -> None:
        current = self.values[j]
        if g is None:
            return
        if current is None:
            self.values[j] = g
        elif self.owned[j]:
            current.add_(g)
        else:
            self.values[j], self.owned[j] = current + g, True


class _Stacked:
    """The gradient of one step input over all steps, each step's part copied in as the backward makes it: while
    it is still in cache, and not kept until a stack at the end reads every part again from memory."""

    def __init__(self, meta: tuple[tuple[int, ...], torch.dtype, torch.device], dim: int) -> None:
        self.meta, self.dim = meta, dim
        self.buffer: Tensor | None = None  # none until a step's part is not None
        self.zero: list[int] = []  # steps whose part was None before the buffer existed

    def slot(self, t: int) -> Tensor:
        """Where step *t*'s part goes: :meth:`put` copies it there, a graph that writes in place writes it there."""
        if self.buffer is None:
            shape, dtype, device = self.meta
            self.buffer = torch.empty(shape, dtype=dtype, device=device)
            for z in self.zero:
                self.buffer.select(self.dim, z).zero_()
        return self.buffer.select(self.dim, t)

    def put(self, t: int, part: Tensor | None) -> None:
        if part is None:
            if self.buffer is None:
                self.zero.append(t)
            else:
                self.buffer.select(self.dim, t).zero_()
            return
        self.slot(t).copy_(part)

    def value(self) -> Tensor | None:
        return self.buffer
