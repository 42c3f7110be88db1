"""The ``onednn`` GRU kernel: parity with the reference kernel and torch.nn.GRU, bf16, and its unavailability."""

from __future__ import annotations

import gc
import random
import threading

import pytest
import torch
from torch import nn

import seqkit
from seqkit.testing.common import weighted_loss
from tests.helpers import assert_close_grads, outputs_and_grads, random_config, torch_forward

build = pytest.importorskip("seqkit_onednn.build")
support = pytest.importorskip("seqkit_onednn.support")

B, T, I, H = 5, 7, 4, 6
LENGTHS = {"none": None, "varied": [7, 1, 4, 7, 3], "all_one": [1, 1, 1, 1, 1], "with_empty": [0, 7, 2, 1, 5]}


def _pair(reset_after, bias, layers, bidirectional, dtype=torch.float32, other="reference"):
    shape = dict(num_layers=layers, bidirectional=bidirectional, reset_after=reset_after, bias=bias)
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", I, H, backend="onednn", **shape).to(dtype=dtype)
    twin = seqkit.create_rnn("gru", I, H, backend=other, **shape)
    twin.load_state_dict({k: v.float() for k, v in layer.state_dict().items()})
    return layer, twin


def _grad_run(module, x, lengths, state, packed=False):
    """Outputs, final state and the gradients of x and the initial state; parameters keep theirs."""
    x = x.clone().requires_grad_()
    state = None if state is None else state.clone().requires_grad_()
    out, final = torch_forward(module, x, lengths, state) if packed else module(x, lengths, state)
    weighted_loss(out.float(), final.float()).backward()
    return out, final, x.grad, None if state is None else state.grad


def _inputs(layers, bidirectional, with_state, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g).to(dtype)
    rows = layers * (2 if bidirectional else 1)
    state = torch.randn(rows, B, H, generator=g).to(dtype) if with_state else None
    return x, state


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("lengths", list(LENGTHS.values()), ids=list(LENGTHS))
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)], ids=["1layer", "2layers_bi"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_h0", "h0"])
def test_matches_the_reference_kernel(reset_after, bias, lengths, layers, bidirectional, with_state):
    layer, reference = _pair(reset_after, bias, layers, bidirectional)
    x, state = _inputs(layers, bidirectional, with_state)
    lengths = None if lengths is None else torch.tensor(lengths)
    got = _grad_run(layer, x, lengths, state)
    want = _grad_run(reference, x, lengths, state)
    assert layer.backend == "onednn" and reference.backend == "reference"
    for a, b in zip(got, want):
        if b is not None:
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert_close_grads(layer.named_parameters(), reference.named_parameters(), atol=1e-5)


@pytest.mark.parametrize("lengths", list(LENGTHS.values())[:3], ids=list(LENGTHS)[:3])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_matches_torch_nn_gru(lengths, bias):
    torch.manual_seed(0)
    module = nn.GRU(I, H, num_layers=2, bidirectional=True, batch_first=True, bias=bias)
    layer = seqkit.from_torch(module, backend="onednn")
    x, state = _inputs(2, True, with_state=True)
    got = _grad_run(layer, x, None if lengths is None else torch.tensor(lengths), state)
    want = _grad_run(module, x, lengths, state, packed=True)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    named = dict(layer.named_parameters())
    for name, p in module.named_parameters():
        torch.testing.assert_close(named[name].grad, p.grad, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.skipif(support.bf16_reason() is not None, reason="this CPU has no native bfloat16")
@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
def test_bfloat16_is_close_to_float32(reset_after):
    layer, reference = _pair(reset_after, True, 1, True, dtype=torch.bfloat16)
    x, state = _inputs(1, True, with_state=True)
    lengths = torch.tensor(LENGTHS["varied"])
    got = _grad_run(layer, x.bfloat16(), lengths, state.bfloat16())
    want = _grad_run(reference, x, lengths, state)
    assert got[0].dtype == torch.bfloat16 and got[2].dtype == torch.bfloat16
    for a, b in zip(got, want):  # bf16 keeps 8 bits of mantissa: about 2 significant digits
        torch.testing.assert_close(a.float(), b, atol=3e-2, rtol=3e-2)
    for (name, p), q in zip(layer.named_parameters(), reference.parameters()):
        assert p.grad.dtype == torch.bfloat16, name
        torch.testing.assert_close(p.grad.float(), q.grad, atol=5e-2, rtol=5e-2, msg=name)


def test_auto_picks_onednn_for_both_formulations_on_cpu():
    for reset_after in (True, False):
        layer = seqkit.create_rnn("gru", I, H, reset_after=reset_after)
        layer(torch.randn(2, 3, I))
        assert layer.backend == "onednn", layer.backend_reason


def test_inference_without_autograd_gives_the_training_outputs():
    layer, _ = _pair(True, True, 2, True)
    x, state = _inputs(2, True, with_state=True)
    with torch.no_grad():
        out, final = layer(x, torch.tensor(LENGTHS["varied"]), state)
    out2, final2 = layer(x, torch.tensor(LENGTHS["varied"]), state)
    torch.testing.assert_close(out, out2, atol=0, rtol=0)
    torch.testing.assert_close(final, final2, atol=0, rtol=0)


def test_workspaces_survive_retain_graph_and_are_reused():
    from seqkit_onednn import workspace

    layer, _ = _pair(False, True, 1, False)
    x = torch.randn(B, T, I)
    out, _ = layer(x)
    out.sum().backward(retain_graph=True)
    first = layer.weight_hh_l0.grad.clone()
    layer(torch.randn(B, T, I))[0].sum().backward()  # takes another buffer while the first graph is alive
    layer.zero_grad()
    out.sum().backward()
    torch.testing.assert_close(layer.weight_hh_l0.grad, first, atol=0, rtol=0)
    del out
    gc.collect()
    assert sum(len(v) for v in workspace._free.values()) >= 1


def test_an_empty_batch_runs():
    layer, _ = _pair(True, True, 1, True)
    out, final = layer(torch.randn(0, T, I))
    assert out.shape == (0, T, 2 * H) and final.shape == (2, 0, H)


@pytest.mark.parametrize(
    "device,dtype,reason",
    [
        ("cpu", torch.float64, "float32 and bfloat16 only"),
        ("cpu", torch.float16, "float32 and bfloat16 only"),
        ("cuda", torch.float32, "runs on CPU only"),
    ],
)
def test_declines_what_onednn_cannot_run(device, dtype, reason):
    cell = seqkit.get_plugin_manager().cells.get("gru").build(2, 3)
    assert reason in support.supports(cell, torch.device(device), dtype)


@pytest.fixture
def forget_the_build(monkeypatch):
    """This process's build outcome is remembered; start afresh, and restore it afterwards."""
    monkeypatch.setattr(build, "_loaded", None)
    monkeypatch.setattr(build, "_failure", None)


@pytest.mark.usefixtures("forget_the_build")
def test_without_the_library_auto_falls_back_and_records_why(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_ONEDNN_ROOT", str(tmp_path))  # a prefix holding no oneDNN
    layer = seqkit.create_rnn("gru", I, H)
    layer(torch.randn(2, 3, I))
    assert layer.backend == "native"
    assert "'onednn': oneDNN headers (oneapi/dnnl/dnnl.hpp) not found under" in layer.backend_reason
    assert "pip install 'seqkit[onednn]'" in layer.backend_reason
    before = seqkit.create_rnn("gru", I, H, reset_after=False)
    assert before.backend == "generic" and "'onednn': oneDNN headers" in before.backend_reason
    with pytest.raises(seqkit.KernelUnavailableError, match="backend 'onednn' cannot run .*not found under"):
        seqkit.create_rnn("gru", I, H, backend="onednn")


def test_the_wheels_are_found_by_their_file_lists(monkeypatch, tmp_path):
    import sysconfig

    monkeypatch.delenv("SEQKIT_ONEDNN_ROOT", raising=False)
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"data": str(tmp_path)})  # not the interpreter's prefix
    found = build.locate()
    assert (found.include / "oneapi/dnnl/dnnl.hpp").is_file() and (found.lib / "libdnnl.so.3").is_file()
    monkeypatch.setenv("SEQKIT_ONEDNN_ROOT", str(found.lib.parent))  # an explicit prefix is used as is
    assert build.locate() == found


@pytest.mark.usefixtures("forget_the_build")
def test_without_a_compiler_the_reason_says_so(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler")
    layer = seqkit.create_rnn("gru", I, H)
    assert layer.backend == "native" and "no C++ compiler: 'no-such-compiler'" in layer.backend_reason


@pytest.mark.usefixtures("forget_the_build")
def test_a_failed_build_is_a_reason_not_a_crash(monkeypatch):
    from torch.utils import cpp_extension

    def broken(**kwargs):
        raise RuntimeError("Error building extension 'seqkit_onednn_gru'")

    monkeypatch.setattr(cpp_extension, "load", broken)
    layer = seqkit.create_rnn("gru", I, H)
    layer(torch.randn(2, 3, I))
    assert layer.backend == "native"
    assert "building the oneDNN extension failed: RuntimeError: Error building extension" in layer.backend_reason


@pytest.mark.parametrize("seed", range(30))
def test_random_gru_configurations_in_float32(seed):
    """test_random_sweep's shapes, lengths and options (gru only), in float32 where oneDNN computes."""
    rng = random.Random(seed)
    c = random_config(rng)
    while c["kind"] != "gru":
        c = random_config(rng)
    torch.manual_seed(seed)
    shape = dict(num_layers=c["num_layers"], bidirectional=c["bidirectional"], **c["options"])
    reference = seqkit.create_rnn("gru", c["input_size"], c["hidden_size"], backend="reference", **shape)
    layer = seqkit.create_rnn("gru", c["input_size"], c["hidden_size"], backend="onednn", **shape)
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(*c["x_shape"], c["input_size"])
    state = torch.randn_like(reference.init_state(x.shape[0])) if c["with_state"] else None
    lengths = None if c["lengths"] is None else torch.tensor(c["lengths"])
    for a, b in zip(
        outputs_and_grads(layer, x, lengths, state), outputs_and_grads(reference, x, lengths, state), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_bench_times_onednn_beside_the_other_kernels(capsys):
    import json

    from seqkit.cli import main

    tiny = ["--batch", "2", "--steps", "3", "--input", "4", "--hidden", "5", "--repeat", "1", "--warmup", "1"]
    assert main(["bench", "gru", *tiny, "--backends", "onednn,native,reference", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [(r["backend"], r["ran"]) for r in rows] == [
        ("onednn", "onednn"), ("native", "native"), ("reference", "reference"), ("torch.nn", "torch.nn")
    ]  # fmt: skip
    assert main(["bench", "gru", *tiny, "--option", "reset_after=false", "--backends", "onednn,reference"]) == 0
    assert "onednn      onednn" in capsys.readouterr().out


def test_the_workspace_pool_shares_nearby_sizes_and_stays_bounded(monkeypatch):
    from seqkit_onednn import workspace

    workspace.clear()
    assert workspace.bucket(100_000) == workspace.bucket(100_001) >= 100_001
    assert workspace.bucket(100_000) <= 100_000 * 1.125
    monkeypatch.setattr(workspace, "POOL_BYTES", 2**20)
    sizes = range(100_000, 100_000 + 60 * 4_000, 4_000)  # 60 different lengths' worth of buffers
    for size in sizes:
        lease = workspace.Lease(size)
        assert lease.buffer.numel() >= size
        del lease
        assert workspace.pooled_bytes() <= 2**20
    assert workspace.pooled_bytes() == sum(size * len(v) for size, v in workspace._free.items())
    assert len(workspace._free) < len({workspace.bucket(size) for size in sizes})  # the oldest sizes went
    before = workspace.pooled_bytes()
    reused = workspace.Lease(sizes[-1])  # the most recent size is still pooled: taken, not allocated
    assert workspace.pooled_bytes() == before - workspace.bucket(sizes[-1])
    del reused
    workspace.clear()


class _Outputs(nn.Module):
    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)[0]


@pytest.mark.parametrize("lengths", [None, LENGTHS["varied"]], ids=["full", "varied"])
def test_under_autocast_it_computes_as_the_step_loop_does(lengths):
    """A bfloat16 input to a float32 layer (what a Linear before it gives under autocast) ran into the extension's
    dtype check; under autocast torch must cast operation by operation, so the step loop runs."""
    torch.manual_seed(0)
    layer = seqkit.create_rnn("gru", I, H, num_layers=2, bidirectional=True)  # auto: onednn where it can
    twin = seqkit.create_rnn("gru", I, H, num_layers=2, bidirectional=True, backend="reference")
    twin.load_state_dict(layer.state_dict())
    x, _ = _inputs(2, True, False)
    size = None if lengths is None else torch.tensor(lengths)
    for given in (x, x.bfloat16()):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, final = layer(given, size)
            expected, expected_final = twin(given, size)
        assert out.dtype == expected.dtype
        torch.testing.assert_close((out, final), (expected, expected_final))


def test_forward_mode_ad_gives_the_tangent():
    """A dual input to a frozen layer: the extension would drop the tangent (a zero derivative, silently)."""
    layer, twin = _pair(True, True, 1, True)
    layer.requires_grad_(False)
    twin.requires_grad_(False)
    x, _ = _inputs(1, True, False)
    direction = torch.randn_like(x)
    tangents = []
    for module in (layer, twin):
        with torch.autograd.forward_ad.dual_level():
            out, _ = module(torch.autograd.forward_ad.make_dual(x, direction))
            tangents.append(torch.autograd.forward_ad.unpack_dual(out).tangent)
    assert tangents[0] is not None
    torch.testing.assert_close(tangents[0], tangents[1])


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_jit_trace_records_the_computation():
    """torch.jit.trace saw only the extension's allocations: the traced module returned uninitialised memory."""
    layer, twin = _pair(True, True, 1, False)
    layer.eval().requires_grad_(False)
    x, _ = _inputs(1, False, False)
    traced = torch.jit.trace(_Outputs(layer), (x,))
    other = torch.randn_like(x)
    torch.testing.assert_close(traced(other), twin(other)[0])


def test_a_lease_dropped_while_the_pool_is_locked_does_not_wait_for_it():
    """A garbage collection inside the pool's locked section can drop another lease in the same thread: it must
    go back to the allocator, not wait for the lock forever."""
    workspace = pytest.importorskip("seqkit_onednn.workspace")
    leases = [workspace.Lease(10_000)]

    def drop_while_locked():
        with workspace._lock:
            leases.clear()  # the lease's __del__ runs here, in the thread that holds the lock

    worker = threading.Thread(target=drop_while_locked, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "a lease dropped under the pool's lock waits for it forever"
    assert workspace.Lease(10_000).buffer.numel() >= 10_000
