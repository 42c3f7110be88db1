"""Parity with torch.nn.GRU/LSTM/RNN with the same weights: outputs, final states and every gradient."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seqkit
from seqkit.testing.common import as_tuple, weighted_loss
from tests.helpers import assert_close_grads, torch_forward

CELLS = {
    "gru": ("gru", {}, nn.GRU, {}),
    "lstm": ("lstm", {}, nn.LSTM, {}),
    "rnn_tanh": ("rnn", {"nonlinearity": "tanh"}, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": ("rnn", {"nonlinearity": "relu"}, nn.RNN, {"nonlinearity": "relu"}),
}
B, T, I, H = 5, 7, 4, 6
LENGTHS = {
    "none": None,
    "varied": [7, 1, 4, 7, 3],
    "all_full": [7, 7, 7, 7, 7],
    "all_equal_short": [4, 4, 4, 4, 4],
    "all_one": [1, 1, 1, 1, 1],
}
BACKENDS = [
    ("reference", "cpu"),
    ("native", "cpu"),
    pytest.param("cudnn", "cuda", marks=pytest.mark.gpu),
]


@pytest.fixture(autouse=True)
def full_float32():
    """cuDNN computes float32 RNNs in TF32 by default; packed and unpacked batches (torch.nn's and seqkit's
    full-length path) then differ by ~3e-5 (H200, 2026-11-30), over these tests' 1e-5. Parity is checked in
    full float32; TF32's own error is measured in docs/benchmarks.md."""
    cudnn, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = cudnn, matmul


def _pair(cell, layers, bidirectional, backend, device, dtype=torch.float32, bias=True):
    kind, options, torch_type, torch_options = CELLS[cell]
    torch.manual_seed(0)
    reference = torch_type(
        I, H, num_layers=layers, bidirectional=bidirectional, batch_first=True, bias=bias, **torch_options
    ).to(device, dtype)
    layer = seqkit.create_rnn(
        kind, I, H, num_layers=layers, bidirectional=bidirectional, backend=backend, bias=bias, **options
    ).to(device, dtype)
    layer.load_state_dict(reference.state_dict())
    return layer, reference


def _inputs(cell, layers, bidirectional, with_state, device, dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g, dtype=dtype).to(device)
    state = None
    if with_state:
        rows = layers * (2 if bidirectional else 1)
        parts = [
            torch.randn(rows, B, H, generator=g, dtype=dtype).to(device) for _ in range(2 if cell == "lstm" else 1)
        ]
        state = parts[0] if len(parts) == 1 else tuple(parts)
    return x, state


def _run_both(layer, reference, x, lengths, state):
    results = []
    for module in (layer, reference):
        xi = x.clone().requires_grad_()
        si = None if state is None else tuple(s.clone().requires_grad_() for s in as_tuple(state))
        given = None if si is None else (si[0] if len(si) == 1 else si)
        if module is layer:
            out, final = module(xi, None if lengths is None else torch.tensor(lengths), given)
        else:
            out, final = torch_forward(module, xi, lengths, given)
        weighted_loss(out, final).backward()
        results.append((out, as_tuple(final), xi, si))
    return results


@pytest.mark.parametrize("backend,device", BACKENDS)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("lengths", list(LENGTHS), ids=list(LENGTHS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", list(CELLS))
def test_matches_torch_nn(cell, layers, bidirectional, lengths, with_state, backend, device):
    layer, reference = _pair(cell, layers, bidirectional, backend, device)
    x, state = _inputs(cell, layers, bidirectional, with_state, device, torch.float32)
    (out, final, x1, s1), (ref_out, ref_final, x2, s2) = _run_both(layer, reference, x, LENGTHS[lengths], state)

    assert layer.backend == backend
    assert out.shape == (B, T, H * (2 if bidirectional else 1))
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    for ours, theirs in zip(final, ref_final, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=1e-5)
    if with_state:
        for a, b in zip(s1, s2, strict=True):
            torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-5)
    assert_close_grads(layer.named_parameters(), reference.named_parameters(), atol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "native"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_matches_torch_nn_float64_without_bias(cell, backend):
    layer, reference = _pair(cell, 2, True, backend, "cpu", dtype=torch.float64, bias=False)
    assert not any("bias" in n for n, _ in layer.named_parameters())
    x, state = _inputs(cell, 2, True, True, "cpu", torch.float64)
    (out, final, x1, _), (ref_out, ref_final, x2, _) = _run_both(layer, reference, x, LENGTHS["varied"], state)
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=1e-10)
    for ours, theirs in zip(final, ref_final, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-12, rtol=1e-10)
    assert_close_grads(layer.named_parameters(), reference.named_parameters(), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("cell", list(CELLS))
def test_parameter_names_and_shapes_are_torch_nn_s(cell):
    layer, reference = _pair(cell, 2, True, "auto", "cpu")
    ours = {n: tuple(p.shape) for n, p in layer.named_parameters()}
    theirs = {n: tuple(p.shape) for n, p in reference.named_parameters()}
    assert ours == theirs
    assert list(layer.state_dict()) == list(reference.state_dict())


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cudnn_half_precision_matches_reference(dtype):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", I, H, backend="cudnn").cuda().to(dtype)
    slow = seqkit.create_rnn("gru", I, H, backend="reference").cuda().to(dtype)
    slow.load_state_dict(layer.state_dict())
    x = torch.randn(B, T, I, device="cuda", dtype=dtype)
    torch.testing.assert_close(layer(x)[0], slow(x)[0], atol=2e-2, rtol=2e-2)


@pytest.mark.gpu
def test_cudnn_reads_compacted_weights_without_copying_them_each_call():
    import warnings

    layer = seqkit.create_rnn("lstm", I, H, num_layers=2, bidirectional=True, backend="cudnn").cuda()
    before = {n: p.detach().clone() for n, p in layer.named_parameters()}
    x = torch.randn(B, T, I, device="cuda")
    layer(x)  # the first call lays the weights out for cuDNN
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "weights are not part of single contiguous chunk of memory"
        out, _ = layer(x)
        out.sum().backward()
    for name, p in layer.named_parameters():
        assert torch.equal(p.detach(), before[name]), name
