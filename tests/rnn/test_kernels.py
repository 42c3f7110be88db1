"""Kernel selection: auto picks the best supporting kernel per device and dtype and says why; explicit is strict."""

from __future__ import annotations

import logging
import types

import pytest
import torch

import seqkit
from seqkit.reference import run_reference


def counting_kernel(name, priority, only_dtype):
    calls = []

    def run(*args):
        calls.append(args[2].dtype)
        return run_reference(*args)

    def supports(cell, device, dtype):
        if dtype is not None and dtype != only_dtype:
            return f"runs {only_dtype} only"
        return None

    spec = seqkit.KernelSpec(cell="gru", name=name, run=run, supports=supports, priority=priority)
    hooks = types.SimpleNamespace(register_kernels=seqkit.hookimpl(lambda register: register(spec)))
    return hooks, calls


@pytest.mark.usefixtures("without_onednn")
def test_auto_chooses_native_on_cpu_and_reports_what_it_skipped():
    layer = seqkit.create_rnn("gru", 3, 4)
    assert layer.backend == "native"
    if not torch.cuda.is_available():
        assert layer.backend_reason.startswith("auto chose 'native' (priority 50) on cpu/float32; skipped ")
        assert "'cudnn': cuDNN is not available" in layer.backend_reason


@pytest.mark.usefixtures("without_onednn")
def test_auto_follows_the_device_and_dtype_of_each_call():
    hooks, calls = counting_kernel("fast64", priority=500, only_dtype=torch.float64)
    manager = seqkit.PluginManager([("fast64", hooks)])
    layer = seqkit.create_rnn("gru", 3, 4, plugins=manager)
    layer(torch.randn(2, 3, 3))
    assert layer.backend == "native"
    assert "'fast64': runs torch.float64 only" in layer.backend_reason
    layer.double()(torch.randn(2, 3, 3, dtype=torch.float64))
    assert layer.backend == "fast64"
    assert calls == [torch.float64]


def test_the_choice_is_logged_at_debug_level(caplog):
    with caplog.at_level(logging.DEBUG, logger="seqkit.kernels"):
        seqkit.create_rnn("lstm", 3, 4)
    assert any("auto chose 'native'" in r.getMessage() for r in caplog.records)


def test_an_explicit_backend_is_used_even_when_a_better_one_exists():
    layer = seqkit.create_rnn("gru", 3, 4, backend="reference")
    layer(torch.randn(2, 3, 3))
    assert layer.backend == "reference"
    assert "requested explicitly" in layer.backend_reason


def test_an_explicit_backend_that_cannot_run_the_device_says_why():
    hooks, _ = counting_kernel("fast64", priority=500, only_dtype=torch.float64)
    manager = seqkit.PluginManager([("fast64", hooks)])
    layer = seqkit.create_rnn("gru", 3, 4, backend="fast64", plugins=manager)
    with pytest.raises(
        seqkit.KernelUnavailableError, match=r"backend 'fast64' cannot run GRUCell.* on cpu/float32: runs"
    ):
        layer(torch.randn(2, 3, 3))


@pytest.mark.skipif(torch.backends.cudnn.is_available(), reason="checks the message on a machine without cuDNN")
def test_cudnn_without_cuda_is_an_error_at_construction():
    with pytest.raises(seqkit.KernelUnavailableError, match="backend 'cudnn' cannot run .*cuDNN is not available"):
        seqkit.create_rnn("gru", 3, 4, backend="cudnn")


def test_an_unknown_backend_gets_suggestions():
    with pytest.raises(
        seqkit.UnknownNameError, match=r"unknown backend 'natve' .*did you mean 'native'\? Available: auto"
    ):
        seqkit.create_rnn("gru", 3, 4, backend="natve")


def test_every_registered_kernel_answers_supports_for_options_alone():
    manager = seqkit.get_plugin_manager()
    for kernel in manager.kernels:
        cell = manager.cells.get(kernel.cell).build(2, 3)
        answer = kernel.supports(cell, None, None)
        assert answer is None or isinstance(answer, str)


@pytest.mark.gpu
def test_auto_chooses_cudnn_on_cuda():
    layer = seqkit.create_rnn("gru", 3, 4).cuda()
    layer(torch.randn(2, 3, 3, device="cuda"))
    assert layer.backend == "cudnn"


def test_backend_follows_a_dtype_change_before_any_run():
    layer = seqkit.create_rnn("gru", 3, 4).double()
    assert "cpu/float64" in layer.backend_reason


def test_a_deep_copy_keeps_kernels_from_its_own_plugin_manager():
    import copy

    hooks, calls = counting_kernel("fast64", priority=500, only_dtype=torch.float64)
    manager = seqkit.PluginManager([("fast64", hooks)])
    layer = seqkit.create_rnn("gru", 3, 4, backend="fast64", plugins=manager).double()
    clone = copy.deepcopy(layer)
    clone(torch.randn(2, 3, 3, dtype=torch.float64))
    assert clone.backend == "fast64" and calls == [torch.float64]
    assert clone.weight_ih_l0 is not layer.weight_ih_l0
    assert torch.equal(clone.weight_ih_l0, layer.weight_ih_l0)
