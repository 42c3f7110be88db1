"""A step graph compiled in parts: cut at its oneDNN GEMMs, each run of operations between them compiled by inductor.

Inductor lowers oneDNN's linear only against a weight that is a constant of the graph (one it packed itself
when freezing a model); the generic kernel's weights change every optimiser step and arrive packed by the
prologue (:mod:`seqkit.rnn.packedgemm`). So a graph holding such GEMMs is cut at them: the operations between
two GEMMs (the gates, layer norms, their gradients) make one part, compiled as :mod:`seqkit.rnn.stepcompile`
compiles a whole graph, and a generated function calls the parts and the GEMMs in order, as inductor's own
wrapper calls its extern GEMMs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from torch import fx

from seqkit.rnn.packedgemm import LINEAR
from seqkit.rnn.stepcompile import Compiled
from seqkit.rnn.stepgraph import _graph, compiled


def compile_step(
    module: fx.GraphModule, eager: Callable[..., Any], varying: Sequence[int], written: Sequence[int] = ()
) -> Compiled | Parts:
    """*module* (run eagerly as *eager*) compiled at its first call; the inputs at positions *varying* are laid
    out by the sequence's length, those at *written* are written into (see :class:`Compiled`)."""
    nodes = list(module.graph.nodes)
    if not any(_cuts(n) for n in nodes):
        return Compiled(module, eager, varying, written)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    varies = {placeholders[i] for i in varying}
    destinations = {placeholders[i] for i in written}
    # part k runs after the GEMMs of stage k; a GEMM's stage is one past the latest part it reads
    stage: dict[fx.Node, int] = {}
    for node in nodes:
        if node.op != "output":
            latest = max((stage[n] for n in node.all_input_nodes), default=0)
            stage[node] = latest + 1 if _cuts(node) else latest
    (output,) = [n for n in nodes if n.op == "output"]
    last = max(stage.values())
    _dissolve_free_parts(nodes, stage, last)
    top = fx.Graph()
    parts: list[Compiled] = []
    env: dict[fx.Node, fx.Node] = {p: top.placeholder(p.name) for p in placeholders}
    for k in range(last + 1):
        for node in nodes:
            if stage.get(node) == k and _cuts(node):
                env[node] = top.node_copy(node, lambda n: env[n])
        body = [n for n in nodes if stage.get(n) == k and n.op != "placeholder" and not _cuts(n)]
        if not body:
            continue
        inside = set(body)
        inputs = list(dict.fromkeys(i for n in body for i in n.all_input_nodes if i not in inside))
        results = [n for n in body if any(user not in inside for user in n.users)]
        part = _graph(module, inputs, results, body)
        run = Compiled(
            part,
            compiled(part),
            [i for i, n in enumerate(inputs) if n in varies],
            [i for i, n in enumerate(inputs) if n in destinations],
        )
        parts.append(run)
        call = top.call_function(_function(run), tuple(env[i] for i in inputs))
        for j, node in enumerate(results):
            env[node] = top.call_function(operator.getitem, (call, j))
    top.output(fx.node.map_arg(output.args[0], lambda n: env[n]))
    return Parts(compiled(fx.GraphModule(module, top)), eager, parts)


class Parts:
    """The graph run part by part (``run``); ``eager`` is the graph it was cut from, run whole."""

    def __init__(self, run: Callable[..., Any], eager: Callable[..., Any], parts: list[Compiled]) -> None:
        self.run, self.eager, self.parts = run, eager, parts

    def __call__(self, *args: Any) -> Any:
        return self.run(*args)


def _dissolve_free_parts(nodes: list[fx.Node], stage: dict[fx.Node, int], last: int) -> None:
    """Move the work of a part that no later GEMM waits for (a layer norm of the step's input, before the
    recurrent GEMM) as late as its users allow, into the part that reads it: a part of its own would be one
    more call, and often too small to be worth compiling. Parts that feed a GEMM stay as they are."""
    feeding: set[fx.Node] = set()
    stack = [i for n in nodes if _cuts(n) for i in n.all_input_nodes]
    while stack:
        node = stack.pop()
        if node not in feeding and node.op != "placeholder" and not _cuts(node):
            feeding.add(node)
            stack.extend(node.all_input_nodes)
    free = {k for k in range(last + 1)} - {stage[n] for n in feeding}
    for node in reversed(nodes):
        if node.op not in ("output", "placeholder") and not _cuts(node) and stage[node] in free:
            stage[node] = min((_latest_for(user, stage, last) for user in node.users), default=last)
    for node in nodes:  # an element of a multi-output operation stays in its operation's part
        if node.op == "call_function" and node.target is operator.getitem and isinstance(node.args[0], fx.Node):
            stage[node] = stage[node.args[0]]


def _latest_for(user: fx.Node, stage: dict[fx.Node, int], last: int) -> int:
    """The latest part a value read by *user* may be computed in."""
    if user.op == "output":
        return last
    return stage[user] - 1 if _cuts(user) else stage[user]


def _cuts(node: fx.Node) -> bool:
    return node.op == "call_function" and LINEAR is not None and node.target is LINEAR


def _function(run: Compiled) -> Callable[..., Any]:
    """*run* as a plain function: fx names a call after its target's ``__name__``."""

    def part(*args: Any) -> Any:
        return run(*args)

    return part
