"""The generic loop's float32 CPU GEMMs through oneDNN: weights packed once per sequence, weight gradients flipped.

A step's recurrent product (``h Wᵀ``) and its gradient (``g W``) multiply by a weight that stays the same for
the whole sequence. torch sends them to the BLAS it was built with (MKL on x86), which on some CPUs runs these
small-row GEMMs well below oneDNN's speed (on the AMD EPYC CI draws, 63–73 against 78–87 GFLOP/s; see
``benchmarks/gemm_throughput.py``). :func:`pack_static` rewrites such a GEMM of the traced step into oneDNN's
linear (``mkldnn::_linear_pointwise``, the bias added inside the kernel), its weight reordered into oneDNN's
blocked layout by a parameter-only node, so the prologue packs it once per sequence; :func:`flip_products`
rewrites the weight gradients of a chunk of steps. Only float32 CPU GEMMs of at least :data:`MIN_WORK`
multiply-adds are rewritten; ``SEQKIT_GENERIC_GEMM=aten`` (or ``torch.backends.mkldnn.enabled = False``) keeps
torch's own. oneDNN sums the products in another order than MKL: results match to rounding, not bitwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, fx

from seqkit.errors import InvalidArgumentError

aten = torch.ops.aten
LINEAR = torch.ops.mkldnn._linear_pointwise.default if torch._C._has_mkldnn else None
_REORDER = torch.ops.mkldnn._reorder_linear_weight.default if torch._C._has_mkldnn else None
_TRANSPOSES = (aten.t.default, aten.transpose.int, aten.permute.default)
Packs = dict[tuple[fx.Node, bool, int], fx.Node]  # (weight source, transposed, rows) -> its packing node
# oneDNN's call costs 10-35 µs more than MKL's: below ~4M multiply-adds (32 rows of 256 into 512) MKL is as fast
# or faster on the EPYC (32 x 256 -> 256: 65 against 82 µs), above it oneDNN is faster (-> 1024: 278 against 206)
MIN_WORK = 1 << 22


def big_enough(rows: int, inner: int, outputs: int) -> bool:
    """Whether a GEMM of this many multiply-adds is worth oneDNN's fixed cost (:data:`MIN_WORK`)."""
    return rows * inner * outputs >= MIN_WORK


def choice() -> str:
    """``SEQKIT_GENERIC_GEMM``, checked: ``mkldnn`` (the default) or ``aten``. The generic kernel and
    :func:`seqkit.linear` check it on every call, so a bad value is an error whichever path a call takes."""
    value = os.environ.get("SEQKIT_GENERIC_GEMM", "mkldnn")
    if value not in ("mkldnn", "aten"):
        raise InvalidArgumentError(f"environment variable SEQKIT_GENERIC_GEMM={value!r}: expected 'mkldnn' or 'aten'")
    return value


def wanted() -> bool:
    """Whether step GEMMs go to oneDNN: torch has it, ``torch.backends.mkldnn`` is enabled, ``SEQKIT_GENERIC_GEMM``
    is not ``aten``."""
    return choice() == "mkldnn" and LINEAR is not None and torch.backends.mkldnn.is_available() and _enabled()


def _enabled() -> bool:
    return bool(torch._C._get_mkldnn_enabled())


def pack_static(graph: fx.Graph, static: Callable[[fx.Node], bool], per: int = 1) -> int:
    """Rewrite *graph*'s ``x @ W`` (``mm``, or ``addmm`` with a static bias) whose ``W`` is *static* (it depends on the
    parameters alone) and whose ``x`` is not, as oneDNN's linear against ``W`` packed by a static node (the
    prologue's); a ``W`` used by several GEMMs is packed once. How many were rewritten. *per*: *graph* holds this
    many steps' rows, and decides as for one step's (a wider trace must rewrite the same GEMMs)."""
    packed: Packs = {}
    count = 0
    for node in list(graph.nodes):
        operands = _operands(node)
        if operands is None:
            continue
        bias, left, right = operands
        rows, inner = _val(left).shape
        if not big_enough(rows // per, inner, _val(node).shape[1]):
            continue
        if static(right) and not static(left) and (bias is None or static(bias)):
            with graph.inserting_before(node):
                _replace(graph, node, _against_packed(graph, packed, bias, left, right))
            count += 1
    if count:
        graph.eliminate_dead_code()
    return count


def flip_products(graph: fx.Graph) -> int:
    """Rewrite *graph*'s ``Pᵀ Q`` (``mm(t(P), Q)``: a weight's gradient, a sum over rows) as ``(Qᵀ P)ᵀ``, which
    oneDNN computes as ``linear(Qᵀ, Pᵀ)``: at the weight GEMMs' 256–3200 rows 5–25 % faster than MKL's
    ``mm(Pᵀ, Q)`` on the EPYC (at a step's 32 rows, in the loop, slower). How many were rewritten."""
    count = 0
    for node in list(graph.nodes):
        operands = _operands(node)
        if operands is None or operands[0] is not None or not _is_transpose(operands[1]):
            continue
        _, left, right = operands
        if not big_enough(*_val(left).shape, _val(node).shape[1]):
            continue
        with graph.inserting_before(node):
            flipped = _t(graph, right)
            product = graph.call_function(LINEAR, (flipped, left, None, "none", [], ""))
            product.meta["val"] = _val(node).t()
            _replace(graph, node, _t(graph, product))
        count += 1
    if count:
        graph.eliminate_dead_code()
    return count


def _replace(graph: fx.Graph, node: fx.Node, new: fx.Node) -> None:
    new.meta = {**node.meta, **new.meta}
    node.replace_all_uses_with(new)
    graph.erase_node(node)


def _t(graph: fx.Graph, node: fx.Node) -> fx.Node:
    result = graph.call_function(aten.t.default, (node,))
    if isinstance(_val(node), Tensor):
        result.meta["val"] = _val(node).t()
    return result


def _against_packed(graph: fx.Graph, packed: Packs, bias: fx.Node | None, left: fx.Node, right: fx.Node) -> fx.Node:
    """``bias + left @ right`` as oneDNN's linear against *right* packed (one packing node per weight and rows)."""
    rows = _val(left).shape[0]
    # left @ right = linear(left, rightᵀ): the weight oneDNN wants is rightᵀ, laid out (outputs, inputs)
    source, transposed = (right.args[0], False) if _is_transpose(right) else (right, True)
    key = (source, transposed, rows)
    if key not in packed:
        packed[key] = graph.call_function(_REORDER, (_t(graph, source) if transposed else source, rows))
    if bias is not None:  # oneDNN reads the bias as dense: a strided one would give wrong sums
        value = _val(bias)
        bias = graph.call_function(aten.clone.default, (bias,), {"memory_format": torch.contiguous_format})
        bias.meta["val"] = value
    return graph.call_function(LINEAR, (left, packed[key], bias, "none", [], ""))


def _operands(node: fx.Node) -> tuple[fx.Node | None, fx.Node, fx.Node] | None:
    """``(bias, left, right)`` of a float32 CPU ``mm``/``addmm`` this pass can take, else None."""
    if node.op != "call_function":
        return None
    if node.target is aten.mm.default and len(node.args) == 2 and not node.kwargs:
        bias, (left, right) = None, node.args
    elif node.target is aten.addmm.default and len(node.args) == 3 and _unit(node):
        bias, left, right = node.args
    else:
        return None
    values = [_val(n) for n in (node, left, right)]
    if not all(isinstance(n, fx.Node) for n in (left, right)) or not all(_float_cpu(v, 2) for v in values):
        return None
    if bias is not None and not (isinstance(bias, fx.Node) and _float_cpu(_val(bias), 1)):
        return None  # a bias broadcast from a matrix or a row: addmm keeps it
    if bias is not None and tuple(_val(bias).shape) != (values[0].shape[1],):
        return None
    return bias, left, right


def _unit(node: fx.Node) -> bool:
    """An ``addmm`` with β = α = 1."""
    return all(node.kwargs.get(k, 1) == 1 for k in ("beta", "alpha")) and set(node.kwargs) <= {"beta", "alpha"}


def _is_transpose(node: fx.Node) -> bool:
    """Whether *node* is the transpose of a 2-D value: ``t``, ``transpose(0, 1)``, ``permute([1, 0])``."""
    if node.op != "call_function" or node.target not in _TRANSPOSES or not _float_cpu(_val(node), 2):
        return False
    if node.target is aten.transpose.int:
        return sorted(d % 2 for d in node.args[1:3]) == [0, 1]
    if node.target is aten.permute.default:
        return [d % 2 for d in node.args[1]] == [1, 0]
    return True


def _val(node: Any) -> Any:
    return node.meta.get("val") if isinstance(node, fx.Node) else None


def _float_cpu(value: Any, dim: int) -> bool:
    return (
        isinstance(value, Tensor) and value.dtype == torch.float32 and value.device.type == "cpu" and value.dim() == dim
    )
