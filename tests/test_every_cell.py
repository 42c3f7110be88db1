"""Properties every registered cell and kernel must have, checked over whatever the plugins registered."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.kernels import candidates
from tests.helpers import as_tuple, random_loss

MANAGER = seqkit.PluginManager()
CELL_KINDS = MANAGER.cells.names()
CELL_KERNELS = [
    (cell, kernel.name)
    for cell in CELL_KINDS
    for kernel in candidates(MANAGER.kernels, cell)
    if kernel.supports(MANAGER.cells.get(cell).build(2, 3), torch.device("cpu"), torch.float64) is None
]


def _layer(kind, backend="auto", layers=2, bidirectional=True):
    torch.manual_seed(0)
    return seqkit.create_rnn(kind, 3, 4, num_layers=layers, bidirectional=bidirectional, backend=backend).double()


def test_builtin_cells_are_registered():
    assert {"gru", "lstm", "rnn"} <= set(CELL_KINDS)
    assert {("gru", "native"), ("lstm", "native"), ("rnn", "native")} <= set(CELL_KERNELS)


@pytest.mark.parametrize("kind,backend", CELL_KERNELS)
def test_a_padded_sequence_gives_what_it_gives_alone(kind, backend):
    layer = _layer(kind, backend)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    x[1, 2:] = 1e3  # padding must not leak into the sequence's result
    lengths = torch.tensor([6, 2, 5])
    out, state = layer(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone_out, alone_state = layer(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone_out[0], atol=1e-10, rtol=1e-10)
        assert torch.all(out[b, n:] == 0)
        for s, a in zip(as_tuple(state), as_tuple(alone_state), strict=True):
            torch.testing.assert_close(s[:, b], a[:, 0], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("kind,backend", CELL_KERNELS)
def test_kernel_agrees_with_reference_forward_and_backward(kind, backend):
    fast, slow = _layer(kind, backend), _layer(kind, "reference")
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1, 4])
    results = []
    for layer in (fast, slow):
        out, state = layer(x, lengths)
        results.append((out, as_tuple(state), torch.autograd.grad(random_loss(out, state), list(layer.parameters()))))
    (o1, s1, g1), (o2, s2, g2) = results
    torch.testing.assert_close(o1, o2, atol=1e-10, rtol=1e-10)
    for a, b in zip(s1 + g1, s2 + g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("kind,backend", CELL_KERNELS)
def test_an_empty_sequence_keeps_its_initial_state_and_outputs_zeros(kind, backend):
    layer = _layer(kind, backend)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    state = layer.init_state(2)
    state = tuple(torch.randn_like(s) for s in as_tuple(state))
    out, final = layer(x, torch.tensor([0, 4]), state[0] if len(state) == 1 else state)
    assert torch.all(out[0] == 0)
    for given, got in zip(state, as_tuple(final), strict=True):
        torch.testing.assert_close(got[:, 0], given[:, 0])
        assert not torch.allclose(got[:, 1], given[:, 1])


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_step_by_step_equals_the_whole_sequence(kind):
    layer = _layer(kind, layers=2, bidirectional=False)
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    out, final = layer(x)
    state, outputs = None, []
    for t in range(x.shape[1]):
        y, state = layer.step(x[:, t], state)
        outputs.append(y)
    torch.testing.assert_close(torch.stack(outputs, 1), out, atol=1e-10, rtol=1e-10)
    for a, b in zip(as_tuple(state), as_tuple(final), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_step_refuses_a_bidirectional_layer():
    layer = _layer("gru", bidirectional=True)
    with pytest.raises(seqkit.InvalidArgumentError, match="unidirectional"):
        layer.step(torch.zeros(1, 3, dtype=torch.float64))


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_dropout_acts_between_layers_in_training_only(kind):
    torch.manual_seed(0)
    dropped = seqkit.create_rnn(kind, 3, 4, num_layers=2, dropout=0.5)
    plain = seqkit.create_rnn(kind, 3, 4, num_layers=2)
    plain.load_state_dict(dropped.state_dict())
    x = torch.randn(2, 5, 3)
    assert not torch.allclose(dropped.train()(x)[0], plain(x)[0])
    torch.testing.assert_close(dropped.eval()(x)[0], plain(x)[0])


def test_dropout_with_one_layer_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match="between layers"):
        seqkit.create_rnn("gru", 3, 4, dropout=0.3)


@pytest.mark.parametrize("backend", ["reference", "native"])
def test_bfloat16_runs_close_to_float32(backend):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", 8, 16, backend=backend)
    x = torch.randn(4, 10, 8)
    expected = layer(x)[0]
    got = layer.to(torch.bfloat16)(x.to(torch.bfloat16))[0]
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("kind,backend", CELL_KERNELS)
def test_an_empty_time_axis_returns_no_outputs_and_the_initial_state(kind, backend):
    layer = _layer(kind, backend)
    state = tuple(torch.randn_like(s) for s in as_tuple(layer.init_state(2)))
    out, final = layer(torch.randn(2, 0, 3, dtype=torch.float64), None, state[0] if len(state) == 1 else state)
    assert out.shape == (2, 0, 8)
    for given, got in zip(state, as_tuple(final), strict=True):
        assert torch.equal(given, got)


@pytest.mark.parametrize("kind,backend", CELL_KERNELS)
def test_nan_in_padding_reaches_neither_outputs_nor_gradients(kind, backend):
    layer = _layer(kind, backend)
    clean = torch.randn(3, 5, 3, dtype=torch.float64)
    clean[1, 2:] = 0
    dirty = clean.clone()
    dirty[1, 2:] = float("nan")
    lengths = torch.tensor([5, 2, 4])
    results = []
    for x in (clean, dirty):
        x = x.requires_grad_()
        out, state = layer(x, lengths)
        grads = torch.autograd.grad(random_loss(out, state), [x, *layer.parameters()])
        results.append((out, grads))
    (o1, g1), (o2, g2) = results
    assert torch.equal(o1, o2)
    for a, b in zip(g1, g2, strict=True):
        assert torch.equal(a, b)
