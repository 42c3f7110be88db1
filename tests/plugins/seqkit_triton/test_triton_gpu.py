"""The Triton GRU compiled for a GPU: parity with the reference at shapes with several programs per group."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.testing.common import weighted_loss

pytest.importorskip("triton")
pytestmark = pytest.mark.gpu


def _run(backend, reset_after, dtype, B, T, H, lengths):
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", 32, H, bidirectional=True, reset_after=reset_after, backend=backend)
    layer = layer.to("cuda", dtype)
    torch.manual_seed(1)
    x = torch.randn(B, T, 32, device="cuda", dtype=dtype, requires_grad=True)
    out, final = layer(x, torch.tensor(lengths, device="cuda"))
    grads = torch.autograd.grad(weighted_loss(out.float(), final.float()), [x, *layer.parameters()])
    return out, final, grads


@pytest.mark.parametrize("H", [100, 512])
@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("backend", ["triton", "triton_step"])
def test_float32_matches_the_reference(backend, reset_after, H):
    lengths = [40, 1, 17, 33, 40, 8, 2, 39, 25, 12, 40, 5, 30, 31, 7, 16, 40, 3, 19, 22]
    got = _run(backend, reset_after, torch.float32, len(lengths), 40, H, lengths)
    want = _run("reference", reset_after, torch.float32, len(lengths), 40, H, lengths)
    for a, b in zip([got[0], got[1], *got[2]], [want[0], want[1], *want[2]]):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
def test_bfloat16_runs_close_to_float32(reset_after):
    lengths = [64, 9, 33, 1]
    got = _run("triton", reset_after, torch.bfloat16, 4, 64, 256, lengths)
    want = _run("triton", reset_after, torch.float32, 4, 64, 256, lengths)
    torch.testing.assert_close(got[0].float(), want[0], atol=5e-2, rtol=5e-2)


def test_the_persistent_kernel_is_what_runs_where_it_fits():
    from seqkit_triton.launch import plan

    assert plan(8, 256, torch.device("cuda"), torch.float32, persistent=True).persistent
    assert not plan(8, 256, torch.device("cuda"), torch.float32, persistent=False).persistent
