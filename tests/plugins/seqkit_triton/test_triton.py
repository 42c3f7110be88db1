"""The Triton GRU kernels against the reference step loop, run on CPU in Triton's interpreter at tiny shapes."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.testing.common import as_tuple, weighted_loss

pytest.importorskip("triton")

BACKENDS = ["triton", "triton_step"]  # persistent (one hidden slice in the interpreter) and per-step


@pytest.fixture(autouse=True)
def interpreter(monkeypatch):
    """Triton's interpreter for these tests only; seqkit_triton loads its kernels for it whatever the variable."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def _run(backend, reset_after, *, B, T, I, H, lengths=None, layers=1, bidirectional=False, bias=True, h0=True, **kw):
    torch.manual_seed(0)
    shape = dict(num_layers=layers, bidirectional=bidirectional, **kw)  # dropout draws the same masks for both
    layer = seqkit.create_rnn("gru", I, H, **shape, reset_after=reset_after, bias=bias, backend=backend)
    torch.manual_seed(1)
    x = torch.randn(B, T, I, requires_grad=True)
    state = torch.randn(layers * (2 if bidirectional else 1), B, H, requires_grad=True) if h0 else None
    out, final = layer(x, None if lengths is None else torch.tensor(lengths), state)
    assert layer.backend == backend
    inputs = [x, *([state] if h0 else []), *layer.parameters()]
    return out, final, torch.autograd.grad(weighted_loss(out, final), inputs)


# B, T, I, H and the rest at tiny sizes (the interpreter is slow); H is never a power of two
CASES = {
    "full": dict(B=3, T=6, I=5, H=20),
    "lengths": dict(B=5, T=7, I=3, H=18, lengths=[7, 1, 4, 0, 6]),  # a length-1 and an empty sequence
    "bidirectional_2_layers": dict(B=3, T=5, I=4, H=12, lengths=[5, 1, 3], layers=2, bidirectional=True, dropout=0.25),
    "no_bias": dict(B=2, T=4, I=3, H=17, bias=False, h0=False),
    "largest": dict(B=8, T=12, I=6, H=48, lengths=[12, 3, 1, 12, 7, 9, 2, 11]),  # two batch groups
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_the_reference_forward_and_backward(backend, reset_after, case):
    out, final, grads = _run(backend, reset_after, **CASES[case])
    ref_out, ref_final, ref_grads = _run("reference", reset_after, **CASES[case])
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(final, ref_final, atol=1e-5, rtol=1e-5)
    assert len(grads) == len(ref_grads)
    for i, (got, want) in enumerate(zip(grads, ref_grads)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5, msg=lambda m, i=i: f"gradient {i}: {m}")


def test_the_interpreter_really_runs_the_kernels(monkeypatch):
    from seqkit_triton import launch
    from seqkit_triton.loader import device_code, is_interpreted

    modes = []

    def spy(interpret):
        modes.append(interpret)
        return device_code(interpret)

    monkeypatch.setattr(launch, "device_code", spy)
    _run("triton_step", True, B=2, T=2, I=2, H=16)
    assert modes and all(modes)  # every launch asked for the interpreter's kernels (forward and backward)
    assert is_interpreted(device_code(True).fwd_kernel) and is_interpreted(device_code(True).bwd_kernel)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recomputed_gates_give_the_same_gradients(backend, monkeypatch):
    case = CASES["lengths"]
    _, _, stored = _run(backend, False, **case)
    monkeypatch.setenv("SEQKIT_TRITON_RECOMPUTE", "1")
    _, _, recomputed = _run(backend, False, **case)
    for got, want in zip(recomputed, stored):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_float16_runs_close_to_float32():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", 4, 16, backend="triton_step")
    x = torch.randn(3, 5, 4)
    expected = layer(x)[0]
    got = layer.half()(x.half())[0]
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.float(), expected, atol=1e-2, rtol=1e-2)


def test_without_gradients_nothing_is_stored_and_outputs_agree():
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", 3, 16, backend="triton", reset_after=False)
    x = torch.randn(2, 4, 3)
    with torch.no_grad():
        out, final = layer(x)
    ref_out, ref_final = layer.to(torch.float32)(x)  # same weights, default backend is the same layer
    torch.testing.assert_close(out, ref_out.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(as_tuple(final)[0], as_tuple(ref_final)[0].detach(), atol=1e-5, rtol=1e-5)


def test_torch_compile_sees_one_node_per_direction_not_one_per_step():
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", 3, 16, bidirectional=True, backend="triton_step")
    x = torch.randn(2, 6, 3, requires_grad=True)
    out, final = torch.compile(layer, backend=capture, fullgraph=True)(x)
    targets = [node.target for gm in graphs for node in gm.graph.nodes if node.op == "call_function"]
    assert targets.count(torch.ops.seqkit_triton.gru.default) == 2
    eager_out, eager_final = layer(x)
    torch.testing.assert_close(out, eager_out)
    torch.testing.assert_close(final, eager_final)
    out.sum().backward()  # through the op's autograd formula
    assert x.grad is not None


def test_the_custom_op_passes_torch_library_opcheck():
    from seqkit_triton import op

    torch.manual_seed(0)
    H = 16
    args = (
        torch.randn(2, 3, 4, requires_grad=True),
        torch.randn(3 * H, 4, requires_grad=True),
        torch.randn(3 * H, H, requires_grad=True) * 0.3,
        torch.randn(3 * H, requires_grad=True),
        torch.randn(3 * H, requires_grad=True),
        torch.randn(2, H, requires_grad=True),
        torch.tensor([3, 1]),
    )
    torch.library.opcheck(op.gru, (*args, False, False, True))


def test_a_barrier_that_cannot_be_passed_raises_instead_of_hanging(monkeypatch):
    # The interpreter runs programs one after another, so with two hidden slices the first one waits at the
    # barrier for a program that has not started: exactly a GPU whose programs are not all resident.
    from dataclasses import replace

    from seqkit_triton import launch

    real_plan = launch.plan

    def two_slices(batch, hidden, device, dtype, persistent):
        return replace(real_plan(batch, hidden, device, dtype, persistent), BH=16, slices=2)

    monkeypatch.setattr(launch, "plan", two_slices)
    monkeypatch.setattr(launch, "_MAX_SPIN", 4)
    layer = seqkit.create_rnn("gru", 3, 20, backend="triton")
    with pytest.raises(RuntimeError, match="timed out at a barrier"):
        layer(torch.randn(2, 3, 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plan_that_runs_out_of_gpu_resources_falls_back_to_a_smaller_one(backend, monkeypatch):
    from seqkit_triton import launch
    from triton.runtime.errors import OutOfResources

    monkeypatch.setattr(launch, "_working", {})
    flags, refused = launch._flags, []

    def first_plan_too_big(p, dtype):
        if not refused or refused[0] == p:  # the compiler's answer for the first plan tried, each time
            refused.append(p)
            raise OutOfResources(262144, 232448, "shared memory")
        return flags(p, dtype)

    monkeypatch.setattr(launch, "_flags", first_plan_too_big)
    case = dict(B=5, T=7, I=3, H=18, lengths=[7, 1, 4, 0, 6])
    got = _run(backend, False, **case)
    want = _run("reference", False, **case)
    for a, b in zip([got[0], got[1], *got[2]], [want[0], want[1], *want[2]]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert len(refused) == 2  # forward and backward each refused their first plan once
    assert {key[0] for key in launch._working} == {"forward", "backward"}
    assert all(p != refused[0] for p in launch._working.values())
