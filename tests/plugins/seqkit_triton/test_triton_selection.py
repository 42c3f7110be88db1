"""Where backend=auto picks the Triton GRU, and what it says where it cannot run; no kernel runs here."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit import kernels

pytest.importorskip("triton")

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


def _choose(device, reset_after, dtype=torch.float32):
    manager = seqkit.get_plugin_manager()
    cell = manager.cells.get("gru").build(3, 8, reset_after=reset_after)
    return kernels.select(kernels.candidates(manager.kernels, "gru"), "auto", cell, device, dtype)


@pytest.fixture
def fake_cudnn(monkeypatch):
    """Ask the CUDA question on any machine: supports() is all selection looks at."""
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "enabled", True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_on_cuda_cudnn_keeps_reset_after_and_triton_takes_reset_before(fake_cudnn, dtype):
    assert _choose(CUDA, True, dtype).kernel.name == "cudnn"
    choice = _choose(CUDA, False, dtype)
    assert choice.kernel.name == "triton"
    assert "cuDNN has no reset-before GRU, so the Triton kernel runs it at every size" in choice.reason
    # built, before any input: no size to decide on, so cuDNN keeps reset-after and says why Triton waits
    assert "'triton': the measured rule needs the input's batch size and length" in _choose(CUDA, True, dtype).reason


def test_on_cpu_without_the_interpreter_triton_says_it_needs_a_gpu(monkeypatch, without_onednn):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    choice = _choose(CPU, False)
    assert choice.kernel.name == "generic"
    assert "'triton': needs a CUDA device; set TRITON_INTERPRET=1" in choice.reason
    if not torch.cuda.is_available():
        with pytest.raises(seqkit.KernelUnavailableError, match="backend 'triton' cannot run .*needs a CUDA device"):
            seqkit.create_rnn("gru", 3, 8, backend="triton")


@pytest.mark.parametrize("reset_after,expected", [(True, "native"), (False, "generic")])
def test_the_interpreter_is_never_autos_choice_on_cpu(monkeypatch, reset_after, expected, without_onednn):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    choice = _choose(CPU, reset_after)
    assert choice.kernel.name == expected
    assert "'triton': on CPU it runs only in Triton's interpreter" in choice.reason
    layer = seqkit.create_rnn("gru", 3, 8, reset_after=reset_after, backend="triton")  # explicit still works
    layer.to(torch.float64)
    with pytest.raises(seqkit.KernelUnavailableError, match="computes float32/float16 on cpu, got float64"):
        layer(torch.zeros(1, 2, 3, dtype=torch.float64))


def test_bfloat16_on_cpu_is_refused_since_numpy_lacks_it(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    spec = seqkit.get_plugin_manager().kernels.get("gru/triton")
    cell = seqkit.get_plugin_manager().cells.get("gru").build(3, 8)
    assert "got bfloat16" in spec.supports(cell, CPU, torch.bfloat16)
    assert spec.supports(cell, CUDA, torch.bfloat16) is None


def test_hidden_sizes_past_the_register_row_are_refused():
    spec = seqkit.get_plugin_manager().kernels.get("gru/triton")
    cell = seqkit.get_plugin_manager().cells.get("gru").build(3, 2048)
    assert "hidden_size up to 1024" in spec.supports(cell, CUDA, torch.float32)


def test_auto_skip_must_be_callable():
    from dataclasses import replace

    good = seqkit.get_plugin_manager().kernels.get("gru/triton")
    assert replace(good, auto_skip=None).problem() is None
    assert "auto_skip must be callable" in replace(good, auto_skip=3).problem()


def test_a_call_too_large_for_32_bit_indexing_is_refused_before_any_launch():
    from seqkit_triton import launch

    u = torch.empty_strided((2**16, 2**10, 24), (0, 0, 1))  # B*T*4H >= 2**31, in 24 floats of memory
    with pytest.raises(seqkit.InvalidArgumentError, match="indexes with 32 bits"):
        launch.forward(u, torch.empty(24, 8), None, torch.zeros(2**16, 8), None, 2**10, True, False, True)
