"""What a cell and a task tell the exporter: a cell's ONNX operator, and the graphs a task exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from seqkit.errors import SeqkitError


class ExportError(SeqkitError):
    """A model, cell or task that cannot be exported in the asked format (the message says what it would need)."""


@dataclass(frozen=True)
class OnnxOp:
    """The ONNX operator that computes a whole layer of a cell (``Cell.onnx_op()`` returns one, or None).

    ``op`` is ``"GRU"``, ``"LSTM"`` or ``"RNN"``. The cell's parameters must be torch.nn-style ``weight_ih``
    ``(G*H, I)``, ``weight_hh`` ``(G*H, H)`` and optional ``bias_ih``/``bias_hh`` ``(G*H,)``; ``gate_order``
    lists, for each of ONNX's G gate blocks in ONNX's order, the index of that block in the cell's layout
    (GRU: ONNX's z, r, h from torch's r, z, n is ``(1, 0, 2)``). ``attributes`` go on the node as they are
    (``linear_before_reset``, ``activations``), except ``activations``, which is given for one direction and
    repeated for the second.
    """

    op: str
    gate_order: tuple[int, ...]
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportGraph:
    """One graph a task exports: ``module(*inputs.values())`` returns the outputs named ``outputs``, in order.

    ``inputs``: name -> an example tensor (its dtype and rank are the graph's; its sizes need not be);
    ``dynamic_axes``: name (input or output) -> {axis: symbolic name}, e.g. ``{"tokens": {0: "batch", 1: "time"}}``.
    The module runs in eval mode; every :class:`seqkit.Recurrent` in it exports as its cell's ONNX operator.
    """

    name: str
    module: nn.Module
    inputs: dict[str, Tensor]
    outputs: list[str]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    description: str = ""
