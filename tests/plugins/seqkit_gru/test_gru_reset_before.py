"""GRU with reset_after=false (Cho et al., 2014) against an independent, per-sequence hand-written formula."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.testing.common import weighted_loss


def hand_gru_reset_before(w_ih, w_hh, b_ih, b_hh, x, h):
    """One sequence (T, I) from state h (H,): n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)."""
    hs = h.shape[0]
    w_ir, w_iz, w_in = w_ih[:hs], w_ih[hs : 2 * hs], w_ih[2 * hs :]
    w_hr, w_hz, w_hn = w_hh[:hs], w_hh[hs : 2 * hs], w_hh[2 * hs :]
    b_ir, b_iz, b_in = b_ih[:hs], b_ih[hs : 2 * hs], b_ih[2 * hs :]
    b_hr, b_hz, b_hn = b_hh[:hs], b_hh[hs : 2 * hs], b_hh[2 * hs :]
    outputs = []
    for x_t in x:
        r = torch.sigmoid(w_ir @ x_t + b_ir + w_hr @ h + b_hr)
        z = torch.sigmoid(w_iz @ x_t + b_iz + w_hz @ h + b_hz)
        n = torch.tanh(w_in @ x_t + b_in + w_hn @ (r * h) + b_hn)
        h = (1 - z) * n + z * h
        outputs.append(h)
    return outputs, h


def hand_stack(layer, x, lengths, h0):
    """Every sequence alone, truncated to its length; layers and directions by hand; zeros past the end."""
    batch, steps, _ = x.shape
    directions = 2 if layer.bidirectional else 1
    hs = layer.hidden_size
    out = x.new_zeros(batch, steps, directions * hs)
    finals = [[None] * batch for _ in range(layer.num_layers * directions)]
    for b in range(batch):
        seq = x[b, : lengths[b]]
        for layer_index in range(layer.num_layers):
            parts = []
            for d in range(directions):
                sfx = f"_l{layer_index}" + ("_reverse" if d else "")
                w = [getattr(layer, n + sfx) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                row = layer_index * directions + d
                inputs = seq.flip(0) if d else seq
                outputs, final = hand_gru_reset_before(*w, inputs, h0[row, b])
                finals[row][b] = final
                o = torch.stack(outputs) if outputs else seq.new_zeros(0, hs)
                parts.append(o.flip(0) if d else o)
            seq = torch.cat(parts, -1)
        out[b, : lengths[b]] = seq
    return out, torch.stack([torch.stack(r) for r in finals])


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2])
def test_reset_before_matches_hand_formula(layers, bidirectional):
    torch.manual_seed(3)
    layer = seqkit.create_rnn("gru", 3, 5, num_layers=layers, bidirectional=bidirectional, reset_after=False)
    layer = layer.double()
    batch, steps = 4, 6
    lengths = [6, 1, 3, 0]
    x = torch.randn(batch, steps, 3, dtype=torch.float64)
    h0 = torch.randn(layers * (2 if bidirectional else 1), batch, 5, dtype=torch.float64)

    out, final = layer(x, torch.tensor(lengths), h0)
    grads = torch.autograd.grad(weighted_loss(out, final), list(layer.parameters()))
    ref_out, ref_final = hand_stack(layer, x, lengths, h0)
    ref_grads = torch.autograd.grad(weighted_loss(ref_out, ref_final), list(layer.parameters()))

    assert layer.backend == "generic"
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(final, ref_final, atol=1e-12, rtol=1e-10)
    for (name, _), g, r in zip(layer.named_parameters(), grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, atol=1e-12, rtol=1e-10, msg=lambda m, n=name: f"{n}: {m}")


def test_the_two_formulations_differ_with_the_same_weights():
    torch.manual_seed(0)
    after = seqkit.create_rnn("gru", 3, 4)
    before = seqkit.create_rnn("gru", 3, 4, reset_after=False)
    before.load_state_dict(after.state_dict())
    x = torch.randn(2, 5, 3)
    assert not torch.allclose(after(x)[0], before(x)[0], atol=1e-4)


@pytest.mark.usefixtures("without_onednn")
def test_reset_before_chooses_the_generic_kernel_and_says_why_not_native():
    layer = seqkit.create_rnn("gru", 3, 4, reset_after=False)
    assert layer.backend == "generic"
    assert "'native': torch's fused GRU computes only reset_after=true" in layer.backend_reason


def test_reset_before_with_explicit_native_backend_is_an_error_that_says_why():
    with pytest.raises(seqkit.KernelUnavailableError, match="backend 'native' cannot run .*reset_after=true"):
        seqkit.create_rnn("gru", 3, 4, reset_after=False, backend="native")
