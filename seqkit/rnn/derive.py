"""Split a cell's step into its input-only part, run once for all steps, and the recurrent rest (torch.fx).

A cell that defines only ``step`` (its ``project`` is the identity) computes its input projection inside
the step, one small GEMM per time step. Tracing the step once with ``torch.fx`` shows which operations read
the input but never the state: those up to its last matmul are hoisted and run on the whole ``(T*B, I)``
sequence at once, and the loop runs only the rest. What follows the matmul (a layer norm, a bias, an activation)
stays in the step, where the compiled step fuses it with the recurrent side's operations on rows in cache: run on
the whole sequence it would cost passes over a large tensor out of cache, forward and backward (an input part
without a matmul is hoisted whole). The split is kept only when a numerical probe shows the hoisted part treats
rows independently (as a per-example projection does); otherwise the cell runs unchanged.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, fx
from torch.nn import functional as F

from seqkit.rnn.cell import Cell, Params, State
from seqkit.rnn.fused import _autocast
from seqkit.rnn.linear import linear

log = logging.getLogger("seqkit.derive")  # its name before the move into seqkit.rnn

_STATIC, _INPUT, _STATE = 0, 1, 2  # what a traced value depends on: parameters only, the input, the state
_MATMULS = {F.linear, torch.matmul, torch.mm, torch.addmm, torch.bmm, torch.einsum, operator.matmul}
_MATMUL_METHODS = {"matmul", "mm", "addmm", "bmm", "__matmul__"}


@dataclass(frozen=True)
class Split:
    """``hoisted(u, *params) -> frontier`` on ``(N, I)`` rows, and ``recurrent(*frontier_t, *state, *params)``."""

    hoisted: fx.GraphModule
    recurrent: fx.GraphModule
    names: tuple[str, ...]
    frontier: int

    def project(self, params: Params, x: Tensor) -> list[tuple[Tensor, ...]]:
        """``(B, T, I)`` -> one tuple of hoisted values per step (computed on the time-major ``(T*B, I)`` rows)."""
        per_value = [v.unbind(0) for v in self.whole(params, x)]
        return list(zip(*per_value)) if per_value else [()] * x.shape[1]

    def whole(self, params: Params, x: Tensor) -> tuple[Tensor, ...]:
        """``(B, T, I)`` -> each hoisted value for every step, time first: ``(T, B, ...)``."""
        batch, steps = x.shape[0], x.shape[1]
        rows = x.transpose(0, 1).reshape(steps * batch, x.shape[2])
        values = self.hoisted.forward(rows, *(params[n] for n in self.names))
        return tuple(v.reshape(steps, batch, *v.shape[1:]) for v in values)

    def step(self, params: Params, hoisted: tuple[Tensor, ...], state: State) -> tuple[Tensor, State]:
        h, *new = self.recurrent.forward(*hoisted, *state, *(params[n] for n in self.names))  # no Module hooks
        return h, tuple(new)


def split_step(cell: Cell) -> Split | None:
    """The hoisted/recurrent split of *cell*'s step, or None when it cannot be traced or hoisted safely."""
    names = tuple(cell.parameter_shapes())
    width = len(cell.state_sizes)
    try:
        graph = _trace(cell, names, width)
        split = _partition(graph, names, width)
    except Exception as exc:  # any cell code fx cannot trace (data-dependent Python, shape arithmetic, ...)
        log.debug("%r: step not traceable for hoisting (%s: %s)", cell, type(exc).__name__, exc)
        return None
    if split is None or not _rows_independent(cell, split, names):
        log.debug("%r: no input-only part to hoist, or it mixes rows", cell)
        return None
    return split


def _trace(cell: Cell, names: Sequence[str], width: int) -> fx.Graph:
    def step(*args: Any) -> tuple[Any, ...]:
        state = tuple(args[1 + i] for i in range(width))
        params = {name: args[1 + width + j] for j, name in enumerate(names)}
        h, new = cell.step(params, args[0], state)
        return (h, *(new[i] for i in range(width)))

    return _ModeKeepingTracer().trace(step)


class _ModeKeepingTracer(fx.Tracer):
    """fx's symbolic tracer, refusing a step that switches grad mode or autocast inside (``with torch.no_grad():``
    around a weight's norm): fx would not record the switch, and the split step would differentiate through it."""

    def trace(self, root: Any, concrete_args: Any = None) -> fx.Graph:
        self._mode = _mode()
        return super().trace(root, concrete_args)

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        if _mode() != self._mode:
            raise ValueError("the step switches grad mode or autocast inside")
        return super().create_node(*args, **kwargs)


def _mode() -> tuple[bool, ...]:
    return (torch.is_grad_enabled(), torch.is_inference_mode_enabled(), *(_autocast(d) for d in ("cpu", "cuda")))


def _partition(graph: fx.Graph, names: Sequence[str], width: int) -> Split | None:
    """Copy the input-only nodes into one graph and the rest into another; None if nothing is hoisted."""
    kind: dict[fx.Node, int] = {}
    role: dict[fx.Node, int] = {}  # position in the flat argument list
    order = list(graph.nodes)
    for node in order:
        if node.op == "placeholder":
            kind[node] = _STATIC
        elif node.op == "call_function" and node.target is operator.getitem and node.args[0].op == "placeholder":
            position = node.args[1]
            role[node] = position
            kind[node] = _INPUT if position == 0 else _STATE if position <= width else _STATIC
        elif node.op == "output":
            continue
        else:
            kind[node] = max((kind[n] for n in node.all_input_nodes), default=_STATIC)
    if len(role) != 1 + width + len(names):
        return None  # an argument is unused or read in a way the split does not follow
    _after_the_matmuls(order, kind, role)
    recurrent_nodes = [node for node in order if node.op == "output" or kind.get(node) == _STATE]
    users_of_rest = {n for node in recurrent_nodes for n in node.all_input_nodes}
    frontier = [n for n in order if kind.get(n) == _INPUT and n in users_of_rest]
    if all(n in role for n in frontier):
        return None  # the step reads the input only as it is: nothing to hoist
    by_position = {position: node for node, position in role.items()}

    hoisted = fx.Graph()
    env: dict[fx.Node, fx.Node] = {by_position[0]: hoisted.placeholder("u")}
    for j, name in enumerate(names):
        env[by_position[1 + width + j]] = hoisted.placeholder(f"p_{name}")
    for node in order:
        if kind.get(node) in (_STATIC, _INPUT) and node not in env and node.op != "placeholder":
            env[node] = hoisted.node_copy(node, lambda n: env[n])
    hoisted.output(tuple(env[n] for n in frontier))
    hoisted.eliminate_dead_code()
    for node in hoisted.nodes:  # the input GEMM once over the whole sequence: its GEMMs through oneDNN (seqkit.linear)
        if node.op == "call_function" and node.target is F.linear and set(node.kwargs) <= {"bias"}:
            node.target = linear

    rest = fx.Graph()
    inner: dict[fx.Node, fx.Node] = {n: rest.placeholder(f"f{i}") for i, n in enumerate(frontier)}
    for i in range(width):
        inner[by_position[1 + i]] = rest.placeholder(f"s{i}")
    for j, name in enumerate(names):
        inner[by_position[1 + width + j]] = rest.placeholder(f"p_{name}")
    for node in order:
        if node in inner or node.op == "placeholder":
            continue
        if node.op == "output" or kind[node] in (_STATIC, _STATE):
            try:
                inner[node] = rest.node_copy(node, lambda n: inner[n])
            except KeyError:
                return None  # the state part reads an input value that is not on the frontier
    rest.eliminate_dead_code()
    root = torch.nn.Module()
    return Split(fx.GraphModule(root, hoisted), fx.GraphModule(root, rest), tuple(names), len(frontier))


def _after_the_matmuls(order: Sequence[fx.Node], kind: dict[fx.Node, int], role: dict[fx.Node, int]) -> None:
    """Mark the input-only nodes that no input-only matmul reads (directly or not) as the step's own."""
    computed = [n for n in order if kind.get(n) == _INPUT and n not in role]
    hoisted = set()
    stack = [n for n in computed if _is_matmul(n)]
    while stack:
        node = stack.pop()
        if node not in hoisted and kind.get(node) == _INPUT:
            hoisted.add(node)
            stack.extend(node.all_input_nodes)
    if hoisted:
        for node in computed:
            if node not in hoisted:
                kind[node] = _STATE


def _is_matmul(node: fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _MATMUL_METHODS
    return node.op == "call_function" and (node.target in _MATMULS or node.target is torch._C._nn.linear)


def _rows_independent(cell: Cell, split: Split, names: Sequence[str]) -> bool:
    """Probe: the hoisted values of a 6-row input are those of its halves, and the split step equals the step."""
    gen = torch.Generator().manual_seed(0)
    params = {n: torch.randn(s, generator=gen, dtype=torch.float64) for n, s in cell.parameter_shapes().items()}
    u = torch.randn(6, cell.input_size, generator=gen, dtype=torch.float64)
    state = tuple(torch.randn(3, s, generator=gen, dtype=torch.float64) for s in cell.state_sizes)
    try:
        whole = split.hoisted(u, *(params[n] for n in names))
        halves = [split.hoisted(part, *(params[n] for n in names)) for part in (u[:3], u[3:])]
        if not all(isinstance(v, Tensor) and v.shape[0] == 6 for v in whole):
            return False
        for value, a, b in zip(whole, *halves):
            if not torch.allclose(value, torch.cat([a, b]), rtol=1e-10, atol=1e-12):
                return False
        h, new = cell.step(params, u[3:], state)
        h2, new2 = split.step(params, tuple(v[3:] for v in whole), state)
        return all(torch.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip((h, *new), (h2, *new2)))
    except Exception:
        return False
