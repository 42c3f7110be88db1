"""A cell step's forward and backward as plain graphs of ATen operations, derived once by tracing autograd.

``make_fx`` traces one step together with ``torch.autograd.grad`` of it (fake tensors, so no arithmetic
runs), which gives the step's backward as the same operations autograd would run. The joint graph is cut in
three: the *prologue* (what depends on the parameters alone, e.g. ``W_hh.t()``, run once per sequence), the
*forward* step (the new state and the values backward reads) and the *backward* step (the gradients of the
step's inputs, parameters included, from the gradients of its outputs). :mod:`seqkit.rnn.steploop` runs them
inside one ``autograd.Function`` per sequence, so autograd records one node instead of a dozen per step.

A step that cannot be traced this way (Python control flow on values, random numbers, in-place updates of its
inputs) gets None, and the generic kernel runs it as before.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, fx
from torch.fx.experimental.proxy_tensor import make_fx

from seqkit.rnn import packedgemm

log = logging.getLogger("seqkit.stepgraph")

GEMMS = (torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default)
_STATIC, _STEP, _BACK = 0, 1, 2  # depends on parameters only; on the step's input or state; on output gradients


@dataclass(frozen=True)
class Cut:
    """Where the joint graph was cut: what :mod:`seqkit.rnn.paramgrads` needs to cut the backward again."""

    joint: fx.GraphModule
    kind: dict[fx.Node, int]
    back_nodes: list[fx.Node]
    back_inputs: list[fx.Node]  # the backward graph's placeholders, in order
    grads: list[Any]  # the gradient of each differentiable input, or None
    in_diff: tuple[bool, ...]
    param_start: int


@dataclass(frozen=True)
class StepGraphs:
    """``prologue(*params) -> statics``; ``forward(*u, *state, *statics) -> (h, *state, *saved)``;
    ``backward(*saved, *statics, *grads of differentiable outputs) -> grads of differentiable inputs``."""

    prologue: Callable[..., tuple[Any, ...]]
    forward: Callable[..., tuple[Any, ...]]
    backward: Callable[..., tuple[Any, ...]]
    outputs: int  # h and the new state: 1 + len(state)
    saved: int
    dense: tuple[
        bool, ...
    ]  # which statics are GEMM operands: copied contiguous once, GEMMs on strided views are slower
    out_diff: tuple[bool, ...]  # which of (h, *state) have gradients
    in_diff: tuple[bool, ...]  # which of (*u, *state, *params) get gradients
    cut: Cut  # where the joint graph was cut (for seqkit.rnn.paramgrads)
    modules: tuple[fx.GraphModule, fx.GraphModule] | None = None  # forward's and backward's (seqkit.rnn.stepcompile)


def derive(
    step: Callable[..., tuple[Tensor, ...]],
    inputs: Sequence[Tensor],
    counts: tuple[int, int, int],
    outputs: Sequence[Tensor],
    per: int = 1,
) -> StepGraphs | None:
    """The graphs of ``step(*u, *state, *params) -> (h, *new_state)`` at *inputs*' shapes, or None where it
    cannot be traced. *counts*: how many of *inputs* are step inputs, state components and parameters;
    *outputs*: tensors shaped as ``(h, *new_state)`` (the gradients' placeholders); *per*: the inputs hold this
    many steps' rows (a trace for the weight gradients): GEMMs go to oneDNN as in the trace of one step's."""
    n_u, n_state, _ = counts
    in_diff = tuple(
        t.dtype.is_floating_point and (n_u <= i < n_u + n_state or t.requires_grad) for i, t in enumerate(inputs)
    )
    try:
        joint, out_diff = _trace(step, inputs, in_diff, outputs)
        return _cut(joint, len(inputs), counts, in_diff, out_diff, per)
    except Exception as exc:  # Python control flow on values, unsupported operations, ...
        log.debug("step not derivable (%s: %s)", type(exc).__name__, exc)
        return None


def _trace(
    step: Callable[..., tuple[Tensor, ...]],
    inputs: Sequence[Tensor],
    in_diff: tuple[bool, ...],
    outputs: Sequence[Tensor],
) -> tuple[fx.GraphModule, tuple[bool, ...]]:
    """The joint graph: placeholders ``(*inputs, *output grads)``, outputs ``(*step outputs, *input grads)``;
    and which outputs carry gradients (an output that does not leaves its gradient's placeholder unused)."""
    count = len(inputs)
    seen: list[bool] = []

    def joint(*args: Tensor) -> tuple[Any, ...]:
        primals = [a.detach().requires_grad_(d) for a, d in zip(args[:count], in_diff)]
        with torch.enable_grad():
            results = step(*primals)
            if len(results) != len(outputs):
                raise ValueError("the step returned another number of state components")
            seen.extend(isinstance(r, Tensor) and r.requires_grad for r in results)
            wanted = [p for p, d in zip(primals, in_diff) if d]
            pairs = [(r, g) for r, g, d in zip(results, args[count:], seen) if d]
            if not pairs:
                raise ValueError("no differentiable output")
            grads = torch.autograd.grad([r for r, _ in pairs], wanted, [g for _, g in pairs], allow_unused=True)
        return (*results, *grads)

    graph = make_fx(joint, tracing_mode="fake")(*[t.detach() for t in inputs], *[o.detach() for o in outputs])
    for node in list(graph.graph.nodes):  # autograd's detaches of saved values: no-ops where autograd is off
        if node.op == "call_function" and node.target is torch.ops.aten.detach.default:
            node.replace_all_uses_with(node.args[0])
            graph.graph.erase_node(node)
    for node in graph.graph.nodes:
        if node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload):
            if torch.Tag.nondeterministic_seeded in node.target.tags:
                raise ValueError(f"random operation {node.target}")
            if _writes_an_input(node):
                raise ValueError(f"in-place operation on an input: {node.target}")
    stale = _read_after_write(graph.graph)
    if stale is not None:
        raise ValueError(f"a value is read after {stale.target} changed it in place (through a view)")
    return graph, tuple(seen)


def _writes_an_input(node: fx.Node) -> bool:
    """Whether *node* updates in place one of the step's inputs, or a view of one (backward formulas may update
    the fresh tensors they make, as ``maximum``'s does)."""
    return any(_base(written).op == "placeholder" for written in _written(node))


def _read_after_write(graph: fx.Graph) -> fx.Node | None:
    """An in-place operation whose change a later node reads through another name (``a[:, :2] += 1`` then
    ``tanh(a)``): the trace records that read as a read of the tensor before the change, so the graphs would drop
    it. None where every later read goes through the operation's own result, as after ``a += 1``."""
    order = {node: i for i, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
            continue
        for written in _written(node):
            base = _base(written)
            aliases, stack = {base}, [base]
            while stack:  # the base and every view of it (not in-place results: a read of one sees the change)
                for user in stack.pop().users:
                    if user not in aliases and _is_view(user) and not _written(user) and user.args[0] in aliases:
                        aliases.add(user)
                        stack.append(user)
            for alias in aliases:
                if any(order[u] > order[node] and u is not node and u not in aliases for u in alias.users):
                    return node
    return None


def _written(node: fx.Node) -> list[fx.Node]:
    """The arguments *node* updates in place."""
    schema = node.target._schema
    found = []
    for i, argument in enumerate(schema.arguments):
        if argument.alias_info is not None and argument.alias_info.is_write:
            value = node.args[i] if i < len(node.args) else node.kwargs.get(argument.name)
            if isinstance(value, fx.Node):
                found.append(value)
    return found


def _base(node: fx.Node) -> fx.Node:
    """The tensor *node* is a view of (through any chain of views), or *node* itself."""
    while node.op == "call_function" and _is_view(node) and isinstance(node.args[0], fx.Node):
        node = node.args[0]
    return node


def saved_views(forward: fx.GraphModule, inputs: Sequence[int], first: int) -> list[int]:
    """The positions among *forward*'s saved values (its outputs from *first* on) that are its inputs at positions
    *inputs*, or views of them: laid out as those inputs are (a step's slice of the sequence, strided by its length)."""
    placeholders = [n for n in forward.graph.nodes if n.op == "placeholder"]
    wanted = {placeholders[i] for i in inputs}
    saved = list(forward.graph.output_node().args[0])[first:]
    return [k for k, node in enumerate(saved) if isinstance(node, fx.Node) and _base(node) in wanted]


def _is_view(node: fx.Node) -> bool:
    target = node.target
    return isinstance(target, torch._ops.OpOverload) and any(r.alias_info is not None for r in target._schema.returns)


def _cut(
    joint: fx.GraphModule,
    count: int,
    counts: tuple[int, int, int],
    in_diff: tuple[bool, ...],
    out_diff: tuple[bool, ...],
    per: int,
) -> StepGraphs:
    placeholders = [n for n in joint.graph.nodes if n.op == "placeholder"]
    primals, tangents = placeholders[:count], placeholders[count:]
    param_start = counts[0] + counts[1]
    kind = _kinds(joint, primals, tangents, param_start)
    if packedgemm.wanted() and packedgemm.pack_static(joint.graph, lambda n: kind.get(n) == _STATIC, per):
        kind = _kinds(joint, primals, tangents, param_start)
    nodes = list(joint.graph.nodes)
    (output,) = [n for n in nodes if n.op == "output"]
    results = list(output.args[0])
    n_out = len(out_diff)
    fwd_out, grads = results[:n_out], results[n_out:]
    if any(isinstance(r, fx.Node) and kind[r] == _BACK for r in fwd_out):
        raise ValueError("a forward output depends on a gradient")

    def used_by(consumers: Sequence[fx.Node]) -> set[fx.Node]:
        return {n for c in consumers for n in c.all_input_nodes}

    back_nodes = [n for n in nodes if kind.get(n) == _BACK and n.op != "placeholder"]
    step_nodes = [n for n in nodes if kind.get(n) == _STEP and n.op != "placeholder"]
    need_back = used_by(back_nodes) | {g for g in grads if isinstance(g, fx.Node)}
    need_back = {n for n in need_back if kind[n] != _BACK}
    need_step = used_by(step_nodes) | {r for r in fwd_out if isinstance(r, fx.Node)}
    statics = [n for n in nodes if kind.get(n) == _STATIC and n in (need_back | need_step) and n.op != "placeholder"]
    static_params = [n for n in primals[param_start:] if n in (need_back | need_step)]
    statics = static_params + statics
    saved = [n for n in nodes if kind.get(n) == _STEP and n in need_back]

    prologue = _graph(joint, primals[param_start:], statics, [n for n in nodes if kind.get(n) == _STATIC])
    forward = _graph(joint, [*primals[:param_start], *statics], [*fwd_out, *saved], step_nodes)
    tangents = [p for p, d in zip(tangents, out_diff) if d]  # those of outputs without gradients are unused
    backward = _graph(joint, [*saved, *statics, *tangents], list(grads), back_nodes)
    cut = Cut(joint, kind, back_nodes, [*saved, *statics, *tangents], list(grads), in_diff, param_start)
    dense = tuple(any(user.target in GEMMS for user in node.users) for node in statics)
    graphs = (compiled(g) for g in (prologue, forward, backward))
    return StepGraphs(*graphs, n_out, len(saved), dense, out_diff, in_diff, cut, (forward, backward))


def _kinds(joint: fx.GraphModule, primals: list[fx.Node], tangents: list[fx.Node], start: int) -> dict[fx.Node, int]:
    """What each node of *joint* depends on: the parameters alone, the step's input or state, or output gradients."""
    kind: dict[fx.Node, int] = {}
    for i, node in enumerate(primals):
        kind[node] = _STATIC if i >= start else _STEP
    for node in tangents:
        kind[node] = _BACK
    for node in joint.graph.nodes:
        if node not in kind and node.op != "output":
            kind[node] = max((kind[n] for n in node.all_input_nodes), default=_STATIC)
    return kind


def compiled(module: fx.GraphModule) -> Callable[..., tuple[Any, ...]]:
    """*module*'s graph as a plain Python function calling each operator's C++ entry point directly.

    fx's own code looks up ``torch.ops.aten.<op>.<overload>`` and calls it through a Python method on every
    call; here each callable is bound once, which halves the per-operation cost of a small step.
    """
    names: dict[fx.Node, str] = {}
    bound: dict[str, Any] = {}
    lines, params = [], []

    def value(arg: Any) -> str:
        if isinstance(arg, fx.Node):
            return names[arg]
        if isinstance(arg, (list, tuple)):
            inner = ", ".join(value(a) for a in arg)
            return f"[{inner}]" if isinstance(arg, list) else f"({inner}{',' if len(arg) == 1 else ''})"
        if arg is None or isinstance(arg, (bool, int)):
            return repr(arg)
        bound[f"_c{len(bound)}"] = arg
        return f"_c{len(bound) - 1}"

    for i, node in enumerate(module.graph.nodes):
        names[node] = f"v{i}"
        if node.op == "placeholder":
            params.append(names[node])
        elif node.op == "get_attr":
            bound[f"_c{len(bound)}"] = getattr(module, str(node.target))
            lines.append(f"v{i} = _c{len(bound) - 1}")
        elif node.op == "call_function" and node.target is operator.getitem:
            lines.append(f"v{i} = {value(node.args[0])}[{value(node.args[1])}]")
        elif node.op == "call_function":
            call = value(_fast(node.target) if not node.kwargs else getattr(node.target, "_op", node.target))
            arguments = [value(a) for a in node.args] + [f"{k}={value(v)}" for k, v in node.kwargs.items()]
            lines.append(f"v{i} = {call}({', '.join(arguments)})")
        elif node.op == "output":
            lines.append(f"return {value(tuple(node.args[0]))}")
        else:
            return module.forward
    source = f"def run({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in lines)
    scope: dict[str, Any] = dict(bound)
    exec(compile(source, "<seqkit step graph>", "exec"), scope)  # our own code, generated from the graph
    return scope["run"]


def _fast(target: Any) -> Any:
    """The quickest callable with *target*'s meaning: ``torch.<op>`` for an op's only or main overload."""
    if not isinstance(target, torch._ops.OpOverload):
        return target
    name, overload = target._schema.name.split("::")[-1], target._overloadname
    if overload in ("default", "Tensor") and target.namespace == "aten" and not name.endswith("_"):
        function = getattr(torch._C._VariableFunctions, name, None)
        if function is not None:
            return function
    return target._op


def _graph(root: fx.GraphModule, inputs: Sequence[fx.Node], outputs: Sequence[Any], body: Sequence[fx.Node]):
    """A graph taking *inputs* (as placeholders), computing the nodes of *body* it needs, returning *outputs*."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for i, node in enumerate(inputs):
        env[node] = graph.placeholder(f"in{i}")
        env[node].meta = dict(node.meta)  # its value's shape and type, for passes over the new graph
    needed: set[fx.Node] = set()
    stack = [o for o in outputs if isinstance(o, fx.Node)]
    while stack:  # only what the outputs need: the body may hold nodes that read values not among the inputs
        node = stack.pop()
        if node not in needed and node not in env:
            needed.add(node)
            stack.extend(node.all_input_nodes)
    for node in body:
        if node in needed:
            env[node] = graph.node_copy(node, lambda n: env[n])
    graph.output(tuple(env[o] if isinstance(o, fx.Node) else o for o in outputs))
    graph.eliminate_dead_code()
    return fx.GraphModule(root, graph)
