"""Run a gru/lstm/rnn layer through torch's fused operators, with variable lengths handled exactly and,
on CPU, without packing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqkit import Cell, Params, State, by_direction, last_step, zero_past_end
from seqkit_native import frozen_lstm

log = logging.getLogger(__name__)

_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _operator(kind: str, cell: Cell) -> Callable:
    if kind == "gru":
        return torch.gru
    if kind == "lstm":
        return torch.lstm
    return torch.rnn_tanh if cell.nonlinearity == "tanh" else torch.rnn_relu


def _cell_reason(kind: str, cell: Cell, dtype: torch.dtype | None) -> str | None:
    if kind == "gru" and not cell.reset_after:
        return "torch's fused GRU computes only reset_after=true"
    if dtype is not None and dtype not in _FLOATS:
        return f"needs a float16/bfloat16/float32/float64 input, got {dtype}"
    return None


def supports_native(kind: str) -> Callable[[Cell, torch.device | None, torch.dtype | None], str | None]:
    def supports(cell: Cell, device: torch.device | None, dtype: torch.dtype | None) -> str | None:
        if device is not None and device.type != "cpu":
            return f"runs on CPU only, the layer is on {device.type}"
        return _cell_reason(kind, cell, dtype)

    return supports


def supports_cudnn(kind: str) -> Callable[[Cell, torch.device | None, torch.dtype | None], str | None]:
    def supports(cell: Cell, device: torch.device | None, dtype: torch.dtype | None) -> str | None:
        if not torch.backends.cudnn.is_available():
            return "cuDNN is not available (no CUDA build of torch, or no GPU)"
        if device is not None and device.type != "cuda":
            return f"needs a CUDA device, the layer is on {device.type}"
        if not torch.backends.cudnn.enabled:
            return "cuDNN is disabled (torch.backends.cudnn.enabled is False)"
        return _cell_reason(kind, cell, dtype)

    return supports


def runner(
    kind: str, *, always_pack: bool = False
) -> Callable[[Cell, Sequence[Params], Tensor, Tensor | None, State], tuple[Tensor, State]]:
    """The ``KernelSpec.run`` for *kind*: one fused call per layer, or per direction with variable lengths.

    ``always_pack`` takes the packed path on every device (what CUDA runs), so CPU tests can check it.
    """

    def run(cell: Cell, weights: Sequence[Params], x: Tensor, lengths: Tensor | None, state: State):
        op = _operator(kind, cell)
        names = _NAMES if cell.bias else _NAMES[:2]
        flat = [params[n] for params in weights for n in names]
        # cuDNN keeps what backward needs only in training mode, so "train" follows autograd, not dropout.
        train = torch.is_grad_enabled()
        if x.is_cuda:
            _compact_for_cudnn(kind, cell, flat, len(weights) == 2)
        if lengths is None:
            out, *final = op(x, _hx(state), flat, cell.bias, 1, 0.0, train, len(weights) == 2, True)
            return out, tuple(final)
        # cuDNN runs packed batches natively, in one call that keeps both directions in the weight layout
        # it reads in place. On CPU packing is slow: LSTM freezes its cell state past each end instead, and
        # GRU and tanh-RNN run through the padding, where their state stays bounded. A ReLU RNN's need not:
        # it could overflow there and turn masked gradients into 0 * inf = NaN, so it packs.
        unbounded = kind == "rnn" and cell.nonlinearity == "relu"
        if x.is_cuda or always_pack or unbounded:
            return _packed(op, cell, flat, x, lengths, state, train, len(weights) == 2)
        if kind == "lstm":
            if frozen_lstm.can_freeze(cell, weights):
                return frozen_lstm.run_frozen(op, cell, weights, x, lengths, state, train)
            return _packed(op, cell, flat, x, lengths, state, train, len(weights) == 2)
        per = len(names)

        def scan(d: int, inputs: Tensor) -> tuple[Tensor, Tensor]:
            h0 = state[0][d : d + 1]
            out, _ = op(inputs, h0, flat[d * per : (d + 1) * per], cell.bias, 1, 0.0, train, False, True)
            return out, last_step(out, lengths, state[0][d])

        out, finals = by_direction(len(weights), x, lengths, scan)
        return zero_past_end(out, lengths), (torch.stack(finals),)

    return run


def _compact_for_cudnn(kind: str, cell: Cell, flat: list[Tensor], bidirectional: bool) -> None:
    """Lay one layer's weights out in a single buffer, as ``nn.RNNBase.flatten_parameters`` does.

    cuDNN reads such weights in place; otherwise it copies them into a buffer (and warns) at every call.
    The parameters become views of the buffer, once, so later calls find it already done.
    """
    if len({w.untyped_storage().data_ptr() for w in flat}) == 1 or not torch._use_cudnn_rnn_flatten_weight():
        return
    if len({w.data_ptr() for w in flat}) != len(flat) or not all(torch.backends.cudnn.is_acceptable(w) for w in flat):
        return
    import torch.backends.cudnn.rnn as cudnn_rnn

    mode = {"gru": "GRU", "lstm": "LSTM"}.get(kind) or f"RNN_{cell.nonlinearity.upper()}"
    try:
        with torch.cuda.device_of(flat[0]), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(
                flat, 4 if cell.bias else 2, cell.input_size, cudnn_rnn.get_cudnn_mode(mode),
                cell.hidden_size, 0, 1, True, bidirectional,
            )  # fmt: skip
    except (RuntimeError, TypeError) as error:  # an internal torch API: fall back to cuDNN's copying
        log.debug("could not compact %s weights for cuDNN: %s", kind, error)


def _hx(state: State) -> Tensor | list[Tensor]:
    return state[0] if len(state) == 1 else list(state)


def _packed(op, cell, flat, x, lengths, state, train, bidirectional) -> tuple[Tensor, State]:
    packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
    hx = _hx(tuple(s.index_select(1, packed.sorted_indices) for s in state))
    data, *final = op(packed.data, packed.batch_sizes, hx, flat, cell.bias, 1, 0.0, train, bidirectional)
    result = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    out, _ = pad_packed_sequence(result, batch_first=True, total_length=x.shape[1])
    empty = (lengths == 0)[None, :, None]  # packing needs length >= 1; an empty sequence keeps its initial state
    final = tuple(torch.where(empty, s, f.index_select(1, packed.unsorted_indices)) for s, f in zip(state, final))
    return zero_past_end(out, lengths), final


# What the plugin registers, by name ("seqkit_native.fused:run_gru"): this module is imported on first use only.
run_gru, run_lstm, run_rnn = (runner(kind) for kind in ("gru", "lstm", "rnn"))
native_gru, native_lstm, native_rnn = (supports_native(kind) for kind in ("gru", "lstm", "rnn"))
cudnn_gru, cudnn_lstm, cudnn_rnn = (supports_cudnn(kind) for kind in ("gru", "lstm", "rnn"))
