"""The parameters' gradients of a whole sequence in one pass: one large GEMM instead of one small GEMM per step.

A step's backward computes two kinds of gradient: those of its input and state, which the step before needs
(they stay in the per-step loop), and those of the parameters, which nothing in the loop reads. The latter
are sums over the batch rows (``dW = gᵀ h``, ``db = Σ g``), so summed over steps they are the same
computation on all steps' rows at once. This module cuts the step's backward graph in those two parts and
takes the parameter part from a second trace of the step at ``L·B`` rows, where its shapes fit the stacked
rows. Each value the parameter part reads is *rows* (stacked over steps), *summed* over steps (a per-step
partial gradient of parameter shape) or *once* (a parameter-only value). A numerical probe checks that the
stacked computation equals the per-step sum; where it does not, the loop keeps per-step parameter gradients.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, fx

from seqkit.rnn import packedgemm
from seqkit.rnn.stepgraph import _BACK, _STATIC, Cut, _graph, compiled

ROWS, SUMMED, ONCE = "rows", "summed", "once"


@dataclass(frozen=True)
class ParamGrads:
    """``recurrent(*backward inputs) -> (*input and state grads, *frontier)``; ``once(*frontier over all
    steps) -> parameter grads``; ``kinds``: how each frontier value is gathered over steps; ``steps``: the
    steps the stacked rows hold (a sequence with fewer live steps is padded with zero rows)."""

    recurrent: Callable[..., tuple[Any, ...]]
    once: Callable[..., tuple[Any, ...]]
    kinds: tuple[str, ...]
    steps: int
    leading: int  # input and state gradients before the frontier in recurrent's outputs
    recurrent_module: fx.GraphModule | None = None  # recurrent's graph (seqkit.rnn.stepcompile)
    fronts: tuple[tuple[tuple[int, ...], torch.dtype], ...] = ()  # each frontier value's shape and dtype at one step
    # recurrent writing the input gradients and the frontier's rows into views it is handed, after its other results
    # (seqkit.rnn.writeinto); None: recurrent returns them all
    writing: Callable[..., tuple[Any, ...]] | None = None


def split(small: Cut, big: Cut, steps: int) -> ParamGrads | None:
    """The two-part backward from a trace at ``B`` rows (*small*) and one at ``steps·B`` rows (*big*): the loop
    runs the parameter part once per *steps* steps (a GEMM of ``steps·B`` rows, the rows still in cache)."""
    if [(n.name, n.target) for n in small.joint.graph.nodes] != [(n.name, n.target) for n in big.joint.graph.nodes]:
        return None  # the step traced differently at another batch size
    front, recurrent, leading, param_outs = _parts(small)
    if not param_outs:
        return None
    by_name = {n.name: n for n in big.joint.graph.nodes}
    kinds = []
    for node in front:
        a, b = node.meta.get("val"), by_name[node.name].meta.get("val")
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or not a.dtype.is_floating_point:
            return None
        if small.kind[node] == _STATIC:
            if tuple(a.shape) != tuple(b.shape):  # made from the parameters, shaped by the batch (torch.ones(B, 1))
                return None
            kinds.append(ONCE)
        elif tuple(a.shape) == tuple(b.shape):
            kinds.append(SUMMED)
        elif a.dim() and tuple(b.shape) == (a.shape[0] * steps, *a.shape[1:]):
            kinds.append(ROWS)
        else:
            return None
    big_front, _, _, big_outs = _parts(big)
    if [n.name for n in big_front] != [n.name for n in front]:
        return None
    once = _graph(big.joint, big_front, big_outs, big.back_nodes)
    if packedgemm.wanted():
        packedgemm.flip_products(once.graph)
        once.recompile()
    per_step = _graph(small.joint, front, param_outs, small.back_nodes)
    shapes = tuple((tuple(n.meta["val"].shape), n.meta["val"].dtype) for n in front)
    result = ParamGrads(compiled(recurrent), compiled(once), tuple(kinds), steps, leading, recurrent, shapes)
    try:
        return result if _probe(result, compiled(per_step), front) else None
    except Exception:  # the stacked graph cannot even run on the probe's values: per-step gradients
        return None


def _parts(cut: Cut) -> tuple[list[fx.Node], fx.GraphModule, int, list[Any]]:
    """The frontier the parameter part reads, the recurrent part's graph, its gradient count, the parameter grads."""
    positions = [i for i, d in enumerate(cut.in_diff) if d]
    carried = [g for g, i in zip(cut.grads, positions) if i < cut.param_start]
    param_outs = [g for g, i in zip(cut.grads, positions) if i >= cut.param_start]
    needed: set[fx.Node] = set()
    stack = [g for g in carried if isinstance(g, fx.Node)]
    while stack:
        node = stack.pop()
        if node not in needed and cut.kind.get(node) == _BACK:
            needed.add(node)
            stack.extend(node.all_input_nodes)
    params_part: set[fx.Node] = set()
    stack = [g for g in param_outs if isinstance(g, fx.Node)]
    while stack:
        node = stack.pop()
        if node not in params_part and node not in needed and node.op != "placeholder" and cut.kind.get(node) == _BACK:
            params_part.add(node)
            stack.extend(node.all_input_nodes)
    for node in list(params_part):  # an element of a multi-output node computed in the loop is read as itself
        if node.target is operator.getitem and node.args[0] not in params_part:
            params_part.discard(node)
    read = {n for p in params_part for n in p.all_input_nodes if n not in params_part}
    read |= {g for g in param_outs if isinstance(g, fx.Node) and g not in params_part}
    order = list(cut.joint.graph.nodes)
    front = [n for n in order if n in read]
    recurrent = _graph(
        cut.joint, cut.back_inputs, [*carried, *front], [n for n in cut.back_nodes if n not in params_part]
    )
    return front, recurrent, len(carried), param_outs


def gather(kinds: Sequence[str], per_step: Sequence[Sequence[Tensor]], steps: int) -> list[Tensor]:
    """Each frontier value over all steps (*per_step* in time order): rows stacked and zero-padded to *steps*."""
    values = []
    for i, kind in enumerate(kinds):
        parts = [step[i] for step in per_step]
        if kind == ONCE:
            values.append(parts[0])
        elif kind == SUMMED:
            values.append(torch.stack(parts).sum(0) if len(parts) > 1 else parts[0])
        else:
            pad = steps - len(parts)
            if pad:
                parts = [*parts, parts[0].new_zeros(parts[0].shape[0] * pad, *parts[0].shape[1:])]
            values.append(torch.cat(parts))
    return values


def _probe(grads: ParamGrads, per_step: Callable[..., tuple[Any, ...]], front: Sequence[fx.Node]) -> bool:
    """Random frontier values for a few steps: the stacked computation equals the sum of the per-step ones."""
    gen = torch.Generator().manual_seed(0)
    steps = min(grads.steps, 3)
    metas = [n.meta["val"] for n in front]
    once = [torch.randn(tuple(m.shape), generator=gen, dtype=m.dtype).to(m.device) for m in metas]
    samples = [
        [
            o if k == ONCE else torch.randn(tuple(m.shape), generator=gen, dtype=m.dtype).to(m.device)
            for m, k, o in zip(metas, grads.kinds, once)
        ]
        for _ in range(steps)
    ]
    expected = None
    for sample in samples:
        out = per_step(*sample)
        expected = list(out) if expected is None else [e if o is None else e + o for e, o in zip(expected, out)]
    got = grads.once(*gather(grads.kinds, samples, grads.steps))
    for e, g in zip(expected or (), got):
        if (e is None) != (g is None):
            return False
        if e is not None:
            scale = float(e.abs().max()) + 1e-6
            if e.shape != g.shape or float((e - g).abs().max()) > _TOLERANCE.get(e.dtype, 1e-2) * scale:
                return False
    return True


# How far the stacked sum may be from the per-step one: rounding in each dtype, no more. A step that mixes its
# batch rows a little (a batch mean scaled by 1e-3) differs by about 1e-3 and must not pass for row-independent.
_TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
