"""Recurrent layers as ONNX's native GRU/LSTM/RNN operators: one node per layer, with sequence_lens and state.

While :func:`native_recurrent` is active, every :class:`seqkit.Recurrent` in a module runs through an autograd
Function whose ``symbolic`` writes those nodes: torch's (TorchScript-based) ONNX exporter records them in place of
the step loop, so the time axis stays dynamic and ONNX Runtime runs its fused kernels. Values while tracing are
seqkit's own, so the rest of the model traces as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from seqkit.export.spec import ExportError, OnnxOp
from seqkit.rnn.recurrent import Recurrent

_BATCH_FIRST = [1, 0, 2]


def lacking_operator(model: nn.Module) -> list[str]:
    """The kinds of the cells in *model* that have no ONNX operator (their layers export as loops)."""
    kinds = {m.kind for m in model.modules() if isinstance(m, Recurrent) and m.cell.onnx_op() is None}
    return sorted(kinds)


def onnx_op_of(layer: Recurrent, where: str) -> OnnxOp:
    """The layer's cell's ONNX operator, or an error naming the cell (and *where* it sits in the model)."""
    op = layer.cell.onnx_op()
    if op is None:
        raise ExportError(
            f"{where}: cell '{layer.kind}' has no ONNX operator (ONNX has GRU, LSTM and RNN only); the cell would "
            "need to define onnx_op() with an equivalent layout. --format torch exports any cell"
        )
    return op


def _blocks(weight: Tensor, order: tuple[int, ...]) -> Tensor:
    """Reorder the gate blocks of a ``(G*H, ...)`` weight from the cell's layout to ONNX's."""
    parts = weight.detach().float().chunk(len(order), dim=0)
    return torch.cat([parts[i] for i in order], 0)


def onnx_weights(layer: Recurrent, op: OnnxOp, index: int) -> tuple[Tensor, Tensor, Tensor]:
    """ONNX's ``W (D, G*H, I)``, ``R (D, G*H, H)``, ``B (D, 2*G*H)`` for layer *index*, from the cell's parameters."""
    ws, rs, bs = [], [], []
    for direction in range(layer.num_directions):
        p = layer.weights(index, direction)
        w, r = _blocks(p["weight_ih"], op.gate_order), _blocks(p["weight_hh"], op.gate_order)
        zero = torch.zeros(w.shape[0])
        b_ih = _blocks(p["bias_ih"], op.gate_order) if "bias_ih" in p else zero
        b_hh = _blocks(p["bias_hh"], op.gate_order) if "bias_hh" in p else zero
        ws.append(w)
        rs.append(r)
        bs.append(torch.cat([b_ih, b_hh]))
    return torch.stack(ws), torch.stack(rs), torch.stack(bs)


def _attributes(layer: Recurrent, op: OnnxOp) -> dict[str, Any]:
    """The node's attributes, suffixed as torch's symbolic ``g.op`` wants them (``_i`` ints, ``_s`` strings...)."""
    attrs: dict[str, Any] = {
        "hidden_size_i": layer.hidden_size,
        "direction_s": "bidirectional" if layer.bidirectional else "forward",
    }
    for key, value in op.attributes.items():
        if key == "activations":
            attrs["activations_s"] = list(value) * layer.num_directions
        elif isinstance(value, bool | int):
            attrs[f"{key}_i"] = int(value)
        elif isinstance(value, float):
            attrs[f"{key}_f"] = value
        else:
            attrs[f"{key}_s"] = str(value)
    return attrs


def _function(layer: Recurrent, op: OnnxOp, original: Any) -> type[torch.autograd.Function]:
    """An autograd Function computing ``layer`` with seqkit (values) and writing ONNX nodes (graph)."""
    directions, parts = layer.num_directions, len(layer.cell.state_names)
    weights = [onnx_weights(layer, op, i) for i in range(layer.num_layers)]
    attrs = _attributes(layer, op)

    class NativeRecurrent(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, lengths: Tensor, *state: Tensor) -> Any:  # type: ignore[override]
            tracing = torch._C._get_tracing_state()
            torch._C._set_tracing_state(None)  # the values only: the graph is symbolic()'s
            try:
                with torch.no_grad():
                    out, final = original(x, lengths, state[0] if parts == 1 else tuple(state))
            finally:
                torch._C._set_tracing_state(tracing)
            return (out, final) if parts == 1 else (out, *final)

        @staticmethod
        def symbolic(g: Any, x: Any, lengths: Any, *state: Any) -> Any:
            seq = g.op("Transpose", x, perm_i=_BATCH_FIRST)  # (T, B, I): ONNX Runtime's layout
            lens = g.op("Cast", lengths, to_i=6)  # int32
            finals: list[list[Any]] = [[] for _ in range(parts)]
            for index, (w, r, b) in enumerate(weights):
                begin = g.op("Constant", value_t=torch.tensor([index * directions]))
                end = g.op("Constant", value_t=torch.tensor([(index + 1) * directions]))
                axis = g.op("Constant", value_t=torch.tensor([0]))
                initial = [g.op("Slice", s, begin, end, axis) for s in state]
                consts = [g.op("Constant", value_t=t) for t in (w, r, b)]
                node = g.op(op.op, seq, *consts, lens, *initial, outputs=1 + parts, **attrs)
                y, *last = node
                for k, s in enumerate(last):
                    finals[k].append(s)
                # Y (T, D, B, H) -> (T, B, D*H): the next layer's input
                y = g.op("Transpose", y, perm_i=[0, 2, 1, 3])
                shape = g.op("Constant", value_t=torch.tensor([0, -1, directions * layer.hidden_size]))
                seq = g.op("Reshape", y, shape)
            out = g.op("Transpose", seq, perm_i=_BATCH_FIRST)
            stacked = [f[0] if len(f) == 1 else g.op("Concat", *f, axis_i=0) for f in finals]
            return (out, *stacked)

    return NativeRecurrent


def _native_forward(layer: Recurrent, function: type[torch.autograd.Function]) -> Any:
    def forward(x: Tensor, lengths: Tensor | None = None, state: Any = None, **extras: Any) -> Any:
        steps = x.shape[1]
        if lengths is None:  # every sequence full length; traced from x's shape, so the time axis stays dynamic
            lengths = torch.ones_like(x[:, 0, 0], dtype=torch.long) * steps
        if state is None:
            # zeros shaped after the lengths, a graph input (or made from one): zeros shaped after x are folded into
            # a constant of the example's batch size when x's shape is known while tracing (e.g. after a reshape)
            zero = torch.zeros_like(lengths, dtype=x.dtype).unsqueeze(1)  # (B, 1)
            stacks = layer.num_layers * layer.num_directions
            state = tuple(zero.expand(-1, size).unsqueeze(0).expand(stacks, -1, -1) for size in layer.cell.state_sizes)
        parts = (state,) if isinstance(state, Tensor) else tuple(state)
        out, *final = function.apply(x, lengths.to(torch.long), *parts)
        return out, final[0] if len(final) == 1 else tuple(final)

    return forward


def _native_step(layer: Recurrent) -> Any:
    def step(x_t: Tensor, state: Any = None, **extras: Any) -> Any:
        out, final = layer.forward(x_t.unsqueeze(1), None, state)
        return out[:, 0], final

    return step


@contextlib.contextmanager
def native_recurrent(model: nn.Module) -> Iterator[None]:
    """Within: every Recurrent in *model* (checked first) traces as its cell's ONNX operator, forward and step."""
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, Recurrent)]
    patches = []
    for name, layer in layers:
        op = onnx_op_of(layer, f"layer '{name or 'model'}'")
        if layer.cell.extra_input_sizes():
            raise ExportError(
                f"layer '{name}': cell '{layer.kind}' takes extra per-step inputs, which ONNX's {op.op} lacks"
            )
        patches.append((layer, _function(layer, op, layer.forward)))
    try:
        for layer, function in patches:
            layer.forward = _native_forward(layer, function)  # type: ignore[method-assign]
            layer.step = _native_step(layer)  # type: ignore[method-assign]
        yield
    finally:
        for layer, _ in patches:
            layer.__dict__.pop("forward", None)
            layer.__dict__.pop("step", None)
