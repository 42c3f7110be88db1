"""The ``onednn`` kernel's layouts: uneven batches split by length, with exact parity to the reference kernel."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.testing.common import weighted_loss
from tests.helpers import assert_close_grads

support = pytest.importorskip("seqkit_onednn.support")
segments = pytest.importorskip("seqkit_onednn.segments")

B, T, I, H = 6, 9, 4, 5
LENGTHS = {
    "varied": [9, 1, 4, 9, 3, 6],
    "with_empty": [0, 9, 2, 1, 5, 5],
    "all_short": [3, 3, 3, 3, 3, 3],
    "all_empty_but_one": [0, 0, 2, 0, 0, 0],
}


def test_the_plan_splits_where_it_pays():
    lengths = [100, 98, 90, 60, 50, 40, 30, 20, 10, 5, 2, 1]
    assert segments.plan([]) == [0] and segments.plan([0, 0]) == [0]
    bounds = segments.plan(lengths)
    assert bounds[0] == 0 and bounds[-1] == 100 and bounds == sorted(set(bounds))
    assert set(bounds[1:]) <= set(lengths)
    assert segments.plan([7, 7, 7]) == [0, 7]  # equal lengths: one call over their steps, no more
    assert segments.plan([1] * 32) == [0, 1]


def test_the_plan_follows_the_cost_of_a_call(monkeypatch):
    lengths = [100, 98, 90, 60, 50, 40, 30, 20, 10, 5, 2, 1]
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    assert segments.plan(lengths) == [0, *sorted(lengths)]  # free calls: a boundary at every length (packing)
    monkeypatch.setattr(segments, "CALL_COST", 1e9)
    assert segments.plan(lengths) == [0, 100]  # dear calls: the padded batch in one
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    monkeypatch.setattr(segments, "MAX_CANDIDATES", 4)
    few = segments.plan(list(range(60, 0, -1)))
    assert len(few) <= 6 and few[-1] == 60


def _pair(reset_after, layers, bidirectional):
    shape = dict(num_layers=layers, bidirectional=bidirectional, reset_after=reset_after)
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", I, H, backend="onednn", **shape)
    twin = seqkit.create_rnn("gru", I, H, backend="reference", **shape)
    twin.load_state_dict(layer.state_dict())
    return layer, twin


def _grad_run(module, x, lengths, state):
    x = x.clone().requires_grad_()
    state = state.clone().requires_grad_()
    out, final = module(x, lengths, state)
    weighted_loss(out.float(), final.float()).backward()  # the same loss weights in bfloat16 as in float32
    return out, final, x.grad, state.grad


def _check_parity(reset_after, layers, bidirectional, lengths):
    layer, reference = _pair(reset_after, layers, bidirectional)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g)
    state = torch.randn(layers * (2 if bidirectional else 1), B, H, generator=g)
    lengths = torch.tensor(lengths)
    for a, b in zip(_grad_run(layer, x, lengths, state), _grad_run(reference, x, lengths, state), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert_close_grads(layer.named_parameters(), reference.named_parameters(), atol=1e-5)
    assert layer.backend == "onednn"


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("lengths", list(LENGTHS.values()), ids=list(LENGTHS))
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)], ids=["1layer", "2layers_bi"])
def test_a_segment_per_length_matches_the_reference(monkeypatch, reset_after, lengths, layers, bidirectional):
    monkeypatch.setattr(segments, "CALL_COST", 0.0)  # packing: a call per distinct length
    _check_parity(reset_after, layers, bidirectional, lengths)


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("bounds", [[0, 2, 5, 9], [0, 1, 9], [0, 3, 4, 6, 9]], ids=str)
def test_sequences_ending_inside_a_segment_match_the_reference(monkeypatch, reset_after, bounds):
    """Boundaries that are not every length: rows end mid-segment, computing padding whose state is not kept."""
    used = []

    def fixed(lengths):
        used.append(bounds)
        return bounds

    monkeypatch.setattr(segments, "plan", fixed)
    _check_parity(reset_after, 2, True, LENGTHS["varied"])
    assert used  # the split path ran


def test_the_split_runs_fewer_row_steps_than_the_padded_batch(monkeypatch):
    """What the split is for: the calls see only the rows still running (a call per length: the packed count)."""
    from seqkit_onednn import build

    ext = build.extension()
    seen = []
    real = ext.gru_forward

    def counting(x, *args):
        seen.append(x.shape[0] * x.shape[1])
        return real(x, *args)

    monkeypatch.setattr(ext, "gru_forward", counting)
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    layer, _ = _pair(True, 1, False)
    lengths = LENGTHS["varied"]
    layer(torch.randn(B, T, I), torch.tensor(lengths))
    assert sum(seen) == sum(lengths) < B * T


@pytest.mark.parametrize("lengths", [None, [4] * B], ids=["full", "equal"])
def test_both_directions_run_in_one_call(monkeypatch, lengths):
    """Full (or equal-length) batches: a bidirectional layer is one oneDNN call (bidirectional_concat)."""
    from seqkit_onednn import kernel

    calls = []
    real = kernel.call

    def counting(prepared, x, h0, reset_after, originals=()):
        calls.append(tuple(prepared[0].shape))
        return real(prepared, x, h0, reset_after, originals)

    monkeypatch.setattr(kernel, "call", counting)
    for reset_after in (True, False):
        calls.clear()
        _check_parity(reset_after, 2, True, [T] * B if lengths is None else lengths)
        assert calls == [(2, 3 * H, I), (2, 3 * H, 2 * H)]  # one call a layer, each with both directions' weights


@pytest.mark.skipif(support.bf16_reason() is not None, reason="this CPU has no native bfloat16")
def test_both_directions_in_one_call_in_bfloat16():
    layer, reference = _pair(True, 1, True)
    layer.to(torch.bfloat16)
    g = torch.Generator().manual_seed(1)
    x, state = torch.randn(B, T, I, generator=g), torch.randn(2, B, H, generator=g)
    got = layer(x.bfloat16(), None, state.bfloat16())
    want = reference(x, None, state)
    for a, b in zip(got, want, strict=True):  # bf16 keeps about 2 significant digits
        torch.testing.assert_close(a.float(), b, atol=3e-2, rtol=3e-2)


def test_inference_gives_the_training_outputs_when_split(monkeypatch):
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    layer, reference = _pair(False, 2, True)
    x, lengths = torch.randn(B, T, I), torch.tensor(LENGTHS["with_empty"])
    with torch.no_grad():
        out, final = layer(x, lengths)
        want_out, want_final = reference(x, lengths)
    torch.testing.assert_close(out, want_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(final, want_final, atol=1e-5, rtol=1e-5)
    trained_out, trained_final = layer(x, lengths)
    torch.testing.assert_close(out, trained_out, atol=0, rtol=0)
    torch.testing.assert_close(final, trained_final, atol=0, rtol=0)


def test_a_split_layer_survives_retain_graph(monkeypatch):
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    layer, _ = _pair(True, 2, True)
    out, final = layer(torch.randn(B, T, I), torch.tensor(LENGTHS["varied"]))
    loss = weighted_loss(out, final)
    loss.backward(retain_graph=True)
    first = layer.weight_hh_l1_reverse.grad.clone()
    layer.zero_grad()
    loss.backward()
    torch.testing.assert_close(layer.weight_hh_l1_reverse.grad, first, atol=0, rtol=0)


@pytest.mark.skipif(support.bf16_reason() is not None, reason="this CPU has no native bfloat16")
def test_a_split_layer_in_bfloat16(monkeypatch):
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    layer, reference = _pair(False, 1, True)
    layer.to(torch.bfloat16)
    g = torch.Generator().manual_seed(1)
    x, state = torch.randn(B, T, I, generator=g), torch.randn(2, B, H, generator=g)
    lengths = torch.tensor(LENGTHS["with_empty"])
    got = _grad_run(layer, x.bfloat16(), lengths, state.bfloat16())
    want = _grad_run(reference, x, lengths, state)
    assert got[0].dtype == got[2].dtype == got[3].dtype == torch.bfloat16
    for a, b in zip(got, want, strict=True):  # bf16 keeps about 2 significant digits
        torch.testing.assert_close(a.float(), b, atol=3e-2, rtol=3e-2)
    for (name, p), q in zip(layer.named_parameters(), reference.parameters(), strict=True):
        assert p.grad.dtype == torch.bfloat16, name
        torch.testing.assert_close(p.grad.float(), q.grad, atol=5e-2, rtol=5e-2, msg=name)


def test_reused_weights_changed_in_place_are_seen():
    """The extension reuses weights it reordered while the same tensor comes back (the segments of a split layer);
    a tensor changed in place in between (an optimizer step) must be reordered afresh."""
    from seqkit_onednn import build, kernel

    ext = build.extension()
    layer, _ = _pair(True, 1, False)
    prepared = kernel.prepare(layer.cell, layer.weights(0, 0), torch.empty(0))
    w_layer, w_iter, bias = (t.detach().clone() for t in prepared)
    x, h0 = torch.randn(B, T, I), torch.randn(B, H)
    empty = torch.empty(0, dtype=torch.uint8)
    first, _ = ext.gru_forward(x, h0, w_layer, w_iter, bias, empty, True, False)
    again, _ = ext.gru_forward(x, h0, w_layer, w_iter, bias, empty, True, False)
    torch.testing.assert_close(again, first, atol=0, rtol=0)
    w_layer.mul_(0.5)
    w_iter.add_(0.1)
    changed, _ = ext.gru_forward(x, h0, w_layer, w_iter, bias, empty, True, False)
    fresh, _ = ext.gru_forward(x, h0, w_layer.clone(), w_iter.clone(), bias, empty, True, False)
    torch.testing.assert_close(changed, fresh, atol=0, rtol=0)
    assert not torch.allclose(changed, first)


@pytest.mark.parametrize("lengths", [None, "varied"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("name", ["weight_ih_l0", "weight_hh_l0", "bias_hh_l0"])
def test_a_weight_changed_in_place_before_backward_is_refused(lengths, bidirectional, name):
    """As torch.nn.GRU: a backward after an optimiser step changed a weight in place would compute the old
    weights' gradients; the kernel's reordered copies do not change, so it must check the parameters themselves."""
    layer, _ = _pair(True, 1, bidirectional)
    lengths = None if lengths is None else torch.tensor(LENGTHS["varied"])
    out, _ = layer(torch.randn(B, T, I), lengths)
    with torch.no_grad():
        getattr(layer, name).mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_a_batch_of_empty_sequences_keeps_its_states():
    layer, _ = _pair(True, 2, True)
    x, state = torch.randn(B, T, I, requires_grad=True), torch.randn(4, B, H, requires_grad=True)
    out, final = layer(x, torch.zeros(B, dtype=torch.long), state)
    assert not out.any()
    torch.testing.assert_close(final, state, atol=0, rtol=0)
    weighted_loss(out, final).backward()
    assert x.grad is None or not x.grad.any()
    assert all(p.grad is None or not p.grad.any() for p in layer.parameters())


@pytest.mark.parametrize("lengths", [None, LENGTHS["varied"]], ids=["full", "varied"])
def test_runs_under_inference_mode(monkeypatch, lengths):
    """Inference tensors have no version counter: the extension must not reuse weights by one there."""
    monkeypatch.setattr(segments, "CALL_COST", 0.0)
    layer, reference = _pair(True, 2, True)
    x = torch.randn(B, T, I)
    lengths = None if lengths is None else torch.tensor(lengths)
    with torch.inference_mode():
        for _ in range(2):  # the second time, the same weights come back
            out, final = layer(x, lengths)
    want_out, want_final = reference(x, lengths)
    torch.testing.assert_close(out, want_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(final, want_final, atol=1e-5, rtol=1e-5)
