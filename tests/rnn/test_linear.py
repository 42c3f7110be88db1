"""``seqkit.linear``: F.linear's results and gradients, its GEMMs through oneDNN on CPU float32, F.linear elsewhere."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import seqkit
from seqkit.rnn import linear as linear_module
from seqkit.rnn import packedgemm
from tests.rnn.test_generic_onednn import ONEDNN


def _inputs(*shape, bias=True, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, 12, generator=gen, dtype=dtype, requires_grad=True)
    w = torch.randn(20, 12, generator=gen, dtype=dtype, requires_grad=True)
    b = torch.randn(20, generator=gen, dtype=dtype, requires_grad=True) if bias else None
    return x, w, b


def _grads(fn, x, w, b):
    out = fn(x, w, b)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    tensors = [t for t in (x, w, b) if t is not None]
    return (out, *torch.autograd.grad((out * weights).sum(), tensors))


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_results_and_gradients_are_f_linears(shape, bias):
    x, w, b = _inputs(*shape, bias=bias)
    for got, expected in zip(_grads(seqkit.linear, x, w, b), _grads(F.linear, x, w, b), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(autouse=True)
def small_gemms_too(monkeypatch):
    monkeypatch.setattr(packedgemm, "MIN_WORK", 0)  # the tests' small GEMMs through oneDNN too


@pytest.mark.skipif(not ONEDNN, reason="torch without oneDNN")
def test_cpu_float32_runs_through_onednn(monkeypatch):
    x, w, b = _inputs(4, 6)
    out = seqkit.linear(x, w, b)
    assert type(out.grad_fn).__name__ == "_LinearBackward"  # not AddmmBackward0: oneDNN's GEMMs, forward and back
    x, w, b = _inputs(4, 6, dtype=torch.float64)
    assert type(seqkit.linear(x, w, b).grad_fn).__name__ != "_LinearBackward"  # float64: F.linear itself
    monkeypatch.undo()  # as shipped: a decoder's one-row step (12 x 20 multiply-adds) is F.linear's
    x, w, b = _inputs(1, 1)
    assert type(seqkit.linear(x, w, b).grad_fn).__name__ != "_LinearBackward"


@pytest.mark.skipif(not ONEDNN, reason="torch without oneDNN")
def test_layouts_a_strided_bias_and_a_transposed_weight():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 30, generator=gen)[:, ::2].t()  # (15, 8), neither row- nor column-contiguous
    w = torch.randn(8, 24, generator=gen).t()  # (24, 8), transposed
    b = torch.randn(48, generator=gen)[::2]  # strided: oneDNN reads a bias as dense
    torch.testing.assert_close(seqkit.linear(x, w, b), F.linear(x, w, b), rtol=1e-5, atol=1e-5)


def test_gradients_of_gradients_are_f_linears():
    x, w, b = _inputs(3, 4)
    results = []
    for fn in (seqkit.linear, F.linear):
        out = fn(x, w, b)
        g_x, g_w = torch.autograd.grad(out.square().sum(), [x, w], create_graph=True)
        results.append(torch.autograd.grad(g_x.square().sum() + g_w.sin().sum(), [x, w, b]))
    for got, expected in zip(*results, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_elsewhere_it_is_f_linear(monkeypatch):
    x, w, b = _inputs(2, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert seqkit.linear(x, w, b).dtype == torch.bfloat16  # autocast applies, as to F.linear
    w, b = w.detach(), b.detach()
    traced = torch.jit.trace(lambda x: seqkit.linear(x, w, b), (x.detach(),))
    assert "aten::linear" in str(traced.graph)  # an exporter sees F.linear, not oneDNN's operators
    monkeypatch.setenv("SEQKIT_GENERIC_GEMM", "aten")
    assert not linear_module._onednn(x, w, b)
    with torch.autograd.forward_ad.dual_level():
        dual = torch.autograd.forward_ad.make_dual(x.detach(), torch.ones_like(x))
        monkeypatch.delenv("SEQKIT_GENERIC_GEMM")
        tangent = torch.autograd.forward_ad.unpack_dual(seqkit.linear(dual, w.detach())).tangent
        torch.testing.assert_close(tangent, F.linear(torch.ones_like(x), w.detach()))


def test_empty_inputs():
    x, w, b = _inputs(0, 3)
    assert seqkit.linear(x, w, b).shape == (0, 3, 20)


def test_shapes_f_linear_broadcasts_or_refuses_are_its_own():
    x, w, _ = _inputs(4, 6)
    one = torch.tensor([5.0], requires_grad=True)  # F.linear broadcasts a one-element bias
    for got, expected in zip(_grads(seqkit.linear, x, w, one), _grads(F.linear, x, w, one), strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for bad_x, bad_b in ((x, torch.zeros(19)), (x[..., :11], None)):  # a wrong bias length; a wrong inner size
        with pytest.raises(RuntimeError) as expected:
            F.linear(bad_x, w, bad_b)
        with pytest.raises(RuntimeError) as got:
            seqkit.linear(bad_x, w, bad_b)
        assert str(got.value) == str(expected.value)


@pytest.mark.skipif(not ONEDNN, reason="torch without oneDNN")
def test_only_what_the_wanted_gradients_read_is_kept():
    """As F.linear: a frozen weight's layer keeps no input, so changing it in place afterwards is no error."""
    x, w, b = _inputs(4, 6)
    w, b = w.detach(), b.detach()
    h = x * 1
    out = seqkit.linear(h, w, b)
    assert type(out.grad_fn).__name__ == "_LinearBackward"
    h.add_(1)
    (g_x,) = torch.autograd.grad(out.sum(), [x])
    torch.testing.assert_close(g_x, w.sum(0).expand_as(x))
    frozen_input = x.detach()
    out = seqkit.linear(frozen_input, w.requires_grad_(), b)
    frozen_input.add_(1)  # the weight's gradient reads the input: changed in place, refused as by F.linear
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
