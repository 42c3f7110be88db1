"""A step graph that writes some of its results into tensors it is handed, instead of returning them.

The generic kernel's backward copies two kinds of per-step result into larger tensors: the gradient of the
step's input into the whole sequence's gradient, and the rows the weight GEMMs read into a chunk of steps' rows
(:mod:`seqkit.rnn.loopnode`). Each copy is one more pass over a step's rows, out of the fused kernel that has just
computed them. Handed the destinations (views of the larger tensors) as inputs, the compiled graph stores the
values there from inside that kernel: inductor lowers ``copy_`` into a graph input as a store of the kernel that
computes the value.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import fx

COPY = torch.ops.aten.copy_.default


def writing(module: fx.GraphModule, written: Sequence[int]) -> fx.GraphModule | None:
    """*module* ``(*inputs) -> (*results)`` as ``(*inputs, *destinations) -> (*other results, *written)``: the
    results at positions *written* (in that order) are copied into one new trailing input each, and what the graph
    returns for them is only to keep those copies in the graph. None where such a result is not a computed or input
    value (a constant, None), which there is nothing to write."""
    nodes = list(module.graph.nodes)
    output = nodes[-1]
    if output.op != "output" or not isinstance(output.args[0], (tuple, list)):
        return None
    results = list(output.args[0])
    chosen = set(written)
    if not chosen <= set(range(len(results))) or not all(isinstance(results[i], fx.Node) for i in written):
        return None
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in nodes:
        if node.op == "placeholder":
            env[node] = graph.node_copy(node, lambda n: env[n])
    destinations = []
    for k, i in enumerate(written):
        destinations.append(graph.placeholder(f"into{k}"))
        destinations[-1].meta = {"val": results[i].meta["val"]} if "val" in results[i].meta else {}
    for node in nodes:
        if node.op not in ("placeholder", "output"):
            env[node] = graph.node_copy(node, lambda n: env[n])
    copies = [graph.call_function(COPY, (d, env[results[i]])) for d, i in zip(destinations, written)]
    kept = [env[r] if isinstance(r, fx.Node) else r for i, r in enumerate(results) if i not in chosen]
    graph.output((*kept, *copies))
    return fx.GraphModule(module, graph)
