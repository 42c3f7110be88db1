"""The generic kernel's time loop as one autograd node: the step's derived forward and backward graphs run per step.

Autograd records the whole loop as one ``autograd.Function`` (:mod:`seqkit.rnn.loopnode`): its forward runs
the step's forward graph (:mod:`seqkit.rnn.stepgraph`) once per step with autograd off, keeping only what the
step's backward reads; its backward runs the step's backward graph once per step in reverse, and the
parameters' gradients once per chunk of steps (:mod:`seqkit.rnn.paramgrads`). The arithmetic is the
operations autograd would run for the step as written, so results are those of the step loop up to the order
in which gradients are summed. This module decides where that runs and derives the graphs: the caller runs its
plain loop where it does not apply (:func:`wants_loop`, fewer than :data:`MIN_STEPS` live steps, a step that
cannot be derived); ``SEQKIT_GENERIC_LOOP=plain`` turns it off. The step's graphs are compiled by TorchInductor
(:mod:`seqkit.rnn.stepcompile`) on CPU once a shape has run :data:`COMPILE_AFTER` times (``auto``, the default),
at once (``compiled``) or never (``node``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from seqkit.errors import InvalidArgumentError
from seqkit.rnn import packedgemm, writeinto
from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.context import ContextCell
from seqkit.rnn.fused import unfused_reason
from seqkit.rnn.loopnode import Loop, Plan
from seqkit.rnn.paramgrads import ROWS, ParamGrads, split
from seqkit.rnn.percell import PerCell
from seqkit.rnn.stepgraph import StepGraphs, compiled, derive, saved_views
from seqkit.rnn.stepsegments import compile_step

# per cell: the graphs for each input signature (None where the step cannot be derived); a few per cell. Cells of
# one type with equal attributes (the same options and sizes) compute the same step, so they share an entry.
_graphs: PerCell[dict[tuple[Any, ...], Any]] = PerCell()
_shared: dict[tuple[Any, ...], dict[tuple[Any, ...], Any]] = {}
_KEEP, _SHARED = 8, 64
# shapes compiled per cache entry (compiling costs seconds): a last partial batch, an evaluation batch; more run eagerly
COMPILED_SHAPES = 3
# ``auto`` compiles a cell's graphs for a shape on CPU once it has run this often: compiling costs 0.4-13 s, and
# saves 8-20 ms a run at the benchmark's shape (docs/benchmarks.md), so a shape run this often is likely to recur
COMPILE_AFTER = 200
_runs: dict[tuple[Any, ...], int] = {}  # auto: runs per (cache entry, signature)
# Fewer live steps run the plain loop: one node's fixed cost (about 0.1 ms) outweighs what it saves below ~5 steps.
MIN_STEPS = 8
_ROWS, _STEPS = 256, 16  # the weight GEMMs take at least this many rows, from at most this many steps


_failed: PerCell[bool] = PerCell()  # cells whose step could not be derived


def mode() -> str:
    """``SEQKIT_GENERIC_LOOP``: ``auto`` (the default: the node's step graphs compiled once a shape recurs),
    ``compiled`` (compiled at once), ``node`` (never compiled) or ``plain`` (no node); another value is an error."""
    value = os.environ.get("SEQKIT_GENERIC_LOOP", "auto")
    if value not in _MODES:
        raise InvalidArgumentError(
            f"environment variable SEQKIT_GENERIC_LOOP={value!r}: expected one of {', '.join(map(repr, _MODES))}"
        )
    return value


_MODES = ("auto", "compiled", "node", "plain")


def enabled() -> bool:
    """Whether the generic kernel may run a step loop as one autograd node (``SEQKIT_GENERIC_LOOP``)."""
    return mode() != "plain"


def wants_loop(cell: Cell, params: Params, x: Tensor, state: State) -> bool:
    """Whether to try this path: enabled, a gradient wanted, a step not known to fail, and no tracer, autocast or
    transform (torch.compile, torch.jit.trace for export, forward-mode AD, torch.func) that should see the step's
    own operations (:func:`seqkit.unfused_reason`)."""
    if not (enabled() and torch.is_grad_enabled()) or cell in _failed or isinstance(cell, ContextCell):
        return False  # a cell given extra inputs or its position runs as written: such steps often record them
    tensors = (x, *params.values(), *state)
    if torch.compiler.is_compiling() or unfused_reason(*tensors) is not None:
        return False
    return any(t.requires_grad for t in tensors)


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
    cache = graphs_of(cell)
    signature = (
        inputs.tuple_u,
        packedgemm.wanted(),
        names,
        *((tuple(t.shape), _layout(t), t.dtype, t.device, t.requires_grad) for t in (*firsts, *tensors[counts[0] :])),
    )
    fused = _fused(mode(), cache, signature, firsts[0].device)
    key = (fused, *signature)
    eager = cache.get((False, *signature))
    if key not in cache and fused and eager is not None:
        cache[key] = _compiled(*eager, counts)  # auto: the graphs traced already, compiled
    if key not in cache:
        if len(cache) >= _KEEP:
            cache.clear()
        chunk = min(_STEPS, max(4, -(-_ROWS // max(1, firsts[0].shape[0]))))  # steps whose rows make one weight GEMM
        h = firsts[0].new_zeros(firsts[0].shape[0], cell.output_size)  # shaped as the step's h, for its gradient
        outputs = [h, *(torch.zeros_like(s) for s in state)]
        flat = _flat(step, names, counts, inputs.tuple_u)
        cache[key] = _derive(flat, [*firsts, *tensors[counts[0] :]], counts, outputs, chunk)
        if fused:
            cache[key] = _compiled(*cache[key], counts)
    graphs, batched = cache[key]
    if graphs is None:
        _failed.set(cell, True)  # the plain loop from now on (until its attributes change): tracing would fail again
        return None
    always = live if lengths is None else int(lengths.min())
    keep = None if lengths is None else (torch.arange(live, device=lengths.device)[:, None] < lengths).unsqueeze(-1)
    plan = Plan(graphs, batched, counts, inputs.dims, live, always, keep)
    out, *final = Loop.apply(plan, *tensors)
    return out, tuple(final)


def _layout(t: Tensor) -> tuple[bool, ...]:
    """Which dimensions of *t* are strided as in a contiguous tensor. A graph traced at one layout may hold views
    (a ``reshape`` traced as ``view``) that another cannot take, so the layout is part of a graph's signature;
    the strides themselves change with the sequence's length (a step's slice of a batch-first input)."""
    flat, expected = 1, []
    for size in reversed(t.shape):
        expected.append(flat)
        flat *= size
    return tuple(n == 1 or s == e for s, e, n in zip(t.stride(), reversed(expected), t.shape))


def _fused(how: str, cache: dict[tuple[Any, ...], Any], signature: tuple[Any, ...], device: torch.device) -> bool:
    """Whether this run takes compiled graphs: ``compiled``, or ``auto`` on CPU from the :data:`COMPILE_AFTER`-th
    run of the signature on; a shape compiled before keeps them, no more than :data:`COMPILED_SHAPES` are."""
    if (True, *signature) in cache:
        return how in ("compiled", "auto")
    if how == "auto" and device.type == "cpu":
        if len(_runs) >= 4096:
            _runs.clear()
        runs = _runs[(id(cache), signature)] = _runs.get((id(cache), signature), 0) + 1
        wanted = runs >= COMPILE_AFTER
    else:
        wanted = how == "compiled"
    return wanted and sum(k[0] for k in cache) < COMPILED_SHAPES


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
    big = derive(step, wide, counts, [_widened(o, rows) for o in outputs], rows)
    return graphs, None if big is None else split(graphs.cut, big.cut, rows)


def _compiled(
    graphs: StepGraphs | None, batched: ParamGrads | None, counts: tuple[int, int, int]
) -> tuple[StepGraphs | None, ParamGrads | None]:
    """The graphs with the per-step forward and backward compiled at their first call (the prologue and the
    weight GEMMs stay as they are). The layout of step inputs, state, output gradients and the saved values that
    are step inputs (or views of them) changes with the sequence's length."""
    if graphs is None or graphs.modules is None:
        return graphs, batched
    forward, backward = graphs.modules
    width = len(backward.graph.find_nodes(op="placeholder"))
    step_inputs = range(counts[0] + counts[1])
    # the backward's inputs laid out by the length: saved step inputs (or views of them), the outputs' gradients (last)
    tangents = [*saved_views(forward, step_inputs, graphs.outputs), *range(width - sum(graphs.out_diff), width)]
    step = compile_step(forward, graphs.forward, step_inputs)
    graphs = replace(graphs, forward=step, backward=compile_step(backward, graphs.backward, tangents))
    if batched is not None and batched.recurrent_module is not None:
        module = batched.recurrent_module
        batched = replace(batched, recurrent=compile_step(module, batched.recurrent, tangents))
        # the input gradients (each a step's slice of the sequence's) and the frontier's rows, written in place
        rows = [batched.leading + k for k, kind in enumerate(batched.kinds) if kind == ROWS]
        carried = module.graph.output_node().args[0][: batched.leading]
        # for the loop's common case only: every step input and state differentiable, no gradient None by construction
        common = batched.leading == counts[0] + counts[1] and all(carried)
        writing = writeinto.writing(module, [*range(counts[0]), *rows]) if common else None
        if writing is not None:
            into = range(width, width + counts[0] + len(rows))
            varying = [*tangents, *into[: counts[0]]]  # slices along time are laid out by the length; rows are not
            batched = replace(batched, writing=compile_step(writing, compiled(writing), varying, into))
    return graphs, batched


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
