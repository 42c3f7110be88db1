"""``seqkit.unfused_reason``: the contexts in which a fused kernel must let torch see each operation."""

from __future__ import annotations

import torch

import seqkit


def test_a_plain_call_may_be_fused():
    assert seqkit.unfused_reason(torch.ones(2), torch.ones(2, device="meta")) is None
    assert seqkit.unfused_reason() is None


def test_each_context_that_must_see_the_operations_says_so():
    x = torch.ones(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert seqkit.unfused_reason(x) == "autocast is on"
    with torch.autograd.forward_ad.dual_level():
        assert seqkit.unfused_reason(x) == "forward-mode AD is on"
    seen = []
    torch.func.vmap(lambda row: seen.append(seqkit.unfused_reason(row)) or row)(torch.ones(2, 3))
    assert seen == ["a torch.func transform is applied"]
    traced = []
    torch.jit.trace(lambda t: traced.append(seqkit.unfused_reason(t)) or t * 2, (x,), check_trace=False)
    assert traced == ["torch.jit.trace is recording"]
