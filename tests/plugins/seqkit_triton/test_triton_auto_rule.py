"""auto on CUDA sees the input's size: the Triton GRU replaces cuDNN only where measurements show it winning.

No GPU is needed: the rule is asked with a fake table of measurements and a fake device, and selection runs on
CPU with a fake kernel whose rule depends on the batch size.
"""

from __future__ import annotations

import types

import pytest
import torch

import seqkit
from seqkit import ShapeBucket, kernels
from seqkit.reference import run_reference

CUDA = torch.device("cuda")


@pytest.mark.parametrize(
    "batch,steps,bucket",
    [((1, 1), None, (1, 1)), ((3, 200), None, (4, 256)), ((16, 256), None, (16, 256)), ((17, 257), None, (32, 512))],
)
def test_a_shape_falls_in_the_power_of_two_bucket_above_it(batch, steps, bucket):
    shape = ShapeBucket.of(*batch)
    assert (shape.batch, shape.steps) == bucket
    assert str(shape) == f"B<={bucket[0]}, T<={bucket[1]}"


# --- the selection mechanism, with a fake kernel on CPU -----------------------------------------------------------


def small_batch_kernel(asked):
    """A kernel auto takes only for batches of at most 4; *asked* records each shape its rule was asked about."""

    def auto_rule(cell, device, dtype, shape):
        asked.append(shape)
        if shape is None or shape.batch > 4:
            return False, f"measured slower at {shape}"
        return True, f"measured faster at {shape}"

    spec = seqkit.KernelSpec(
        cell="gru", name="small", run=run_reference, supports=lambda c, d, t: None, priority=900, auto_rule=auto_rule
    )
    return types.SimpleNamespace(register_kernels=seqkit.hookimpl(lambda register: register(spec)))


def test_auto_asks_the_rule_once_per_bucket_and_says_what_it_answered():
    asked = []
    manager = seqkit.PluginManager([("small", small_batch_kernel(asked))])
    layer = seqkit.create_rnn("gru", 3, 4, plugins=manager)
    assert layer.backend != "small"  # built: no input seen yet, so no size to decide on
    assert "'small': measured slower at None" in layer.backend_reason
    layer(torch.randn(3, 5, 3))
    assert layer.backend == "small"
    assert "auto chose 'small' (priority 900) on cpu/float32 for B<=4, T<=8 (measured faster at B<=4" in (
        layer.backend_reason
    )
    layer(torch.randn(4, 7, 3))  # the same bucket: no new question
    assert asked.count(ShapeBucket(4, 8)) == 1
    layer(torch.randn(9, 5, 3))
    assert layer.backend != "small"
    assert "'small': measured slower at B<=16, T<=8" in layer.backend_reason
    layer(torch.randn(2, 5, 3))
    assert layer.backend == "small"


def test_an_explicit_backend_ignores_the_rule():
    manager = seqkit.PluginManager([("small", small_batch_kernel([]))])
    layer = seqkit.create_rnn("gru", 3, 4, backend="small", plugins=manager)
    layer(torch.randn(9, 5, 3))
    assert layer.backend == "small"


@pytest.mark.parametrize("answer", [None, True, ("yes", "why"), (True, ""), (True, "a", "b")])
def test_a_rule_that_answers_wrongly_is_the_plugins_error(answer):
    spec = seqkit.KernelSpec(
        cell="gru", name="odd", run=run_reference, supports=lambda c, d, t: None, auto_rule=lambda *a: answer
    )
    cell = seqkit.get_plugin_manager().cells.get("gru").build(3, 4)
    with pytest.raises(seqkit.PluginError, match=r"kernel 'gru/odd'.*auto_rule\(\) must return \(bool, reason\)"):
        kernels.select([spec], "auto", cell, torch.device("cpu"), torch.float32, ShapeBucket(1, 1))


def test_a_rule_that_raises_is_named():
    def broken(*args):
        raise KeyError("oops")

    spec = seqkit.KernelSpec(cell="gru", name="odd", run=run_reference, supports=lambda c, d, t: None, auto_rule=broken)
    cell = seqkit.get_plugin_manager().cells.get("gru").build(3, 4)
    with pytest.raises(seqkit.PluginError, match=r"kernel 'gru/odd'.*failed in auto_rule\(\): KeyError"):
        kernels.select([spec], "auto", cell, torch.device("cpu"), torch.float32, None)


def test_auto_rule_must_be_callable():
    spec = seqkit.KernelSpec(cell="gru", name="odd", run=run_reference, supports=lambda c, d, t: None, auto_rule=3)
    assert "auto_rule must be callable" in spec.problem()


# --- the Triton rule, from a fake table of measurements --------------------------------------------------------------

auto_rule = pytest.importorskip("seqkit_triton.auto_rule")


def table():
    """H 256 and 512, B 1/16/64, T 256 on a fake sm_90 GPU: Triton ~2x everywhere except H=512, B=64 (1.1x)."""
    rows = []
    for hidden in (256, 512):
        for batch in (1, 16, 64):
            train = 0.9 if (hidden, batch) == (512, 64) else 0.55
            rows.append(
                auto_rule.Measurement("Fake GPU", (9, 0), "bfloat16", True, hidden, batch, 256, 0.45, train, "d")
            )
    return rows


def ask(hidden, batch, steps, dtype=torch.bfloat16, reset_after=True, capability=(9, 0)):
    rule = auto_rule.make_rule(table(), capability=lambda device: capability)
    cell = seqkit.get_plugin_manager().cells.get("gru").build(hidden, hidden, reset_after=reset_after)
    return rule(cell, CUDA, dtype, ShapeBucket.of(batch, steps))


def test_triton_is_taken_inside_the_measured_region():
    take, why = ask(256, 8, 200)  # between B=1 and B=16, in the T=256 bucket
    assert take
    assert "Triton at 1.82-1.82x cuDNN's speed around H=256, B<=8, T<=256, bfloat16, sm_90 (measured on Fake GPU" in why


def test_between_two_measured_hidden_sizes_every_corner_must_win():
    assert ask(384, 16, 256)[0]  # corners H 256/512 x B 16: all ~1.8x
    take, why = ask(384, 32, 256)  # a corner (H=512, B=64) measured only 1.11x
    assert not take
    assert "Triton measured 1.11x cuDNN's speed, under the 1.25x margin" in why


@pytest.mark.parametrize(
    "kwargs,expected",
    [
        ({"hidden": 256, "batch": 128, "steps": 256}, "no GPU measurement covers H=256, B<=128"),
        ({"hidden": 1024, "batch": 16, "steps": 256}, "no GPU measurement covers H=1024"),
        ({"hidden": 256, "batch": 16, "steps": 100}, "no GPU measurement covers H=256, B<=16, T<=128"),
        ({"hidden": 256, "batch": 16, "steps": 256, "dtype": torch.float32}, "float32, sm_90"),
        ({"hidden": 256, "batch": 16, "steps": 256, "capability": (8, 0)}, "sm_80"),
    ],
)
def test_cudnn_stays_wherever_no_measurement_covers_the_layer(kwargs, expected):
    take, why = ask(**kwargs)
    assert not take
    assert expected in why


def test_reset_before_is_always_triton_and_an_unknown_size_never_is():
    assert ask(256, 512, 4096, reset_after=False)[0]
    rule = auto_rule.make_rule(table(), capability=lambda device: (9, 0))
    cell = seqkit.get_plugin_manager().cells.get("gru").build(8, 8)
    take, why = rule(cell, CUDA, torch.bfloat16, None)
    assert not take and "needs the input's batch size and length" in why


@pytest.fixture
def fake_cudnn(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "enabled", True)
    monkeypatch.setattr(auto_rule, "device_capability", lambda device: (9, 0))


@pytest.mark.parametrize(
    "hidden,batch,steps,expected,why",
    [
        (256, 1, 256, "triton", "measured on NVIDIA H200, 2026-12-04"),  # measured twice: the later session's
        (256, 16, 256, "triton", "measured on NVIDIA H200, 2026-11-30"),
        (256, 128, 256, "triton", "1.45-1.53x cuDNN's speed around H=256, B<=128, T<=256"),  # between B=64 and 256
        (384, 1, 512, "triton", "around H=384, B<=1, T<=512"),  # between both hidden sizes and both lengths
        (512, 1, 64, "cudnn", "'triton': at H=512, B<=1, T<=64, bfloat16, sm_90 Triton measured 0.89x"),
        (256, 512, 256, "cudnn", "'triton': no GPU measurement covers H=256, B<=512"),
        (512, 16, 256, "cudnn", "'triton': no GPU measurement covers H=512, B<=16"),
    ],
)
def test_the_shipped_measurements_pick_triton_only_where_the_h200_showed_it_ahead(
    fake_cudnn, hidden, batch, steps, expected, why
):
    manager = seqkit.get_plugin_manager()
    cell = manager.cells.get("gru").build(hidden, hidden)
    options = kernels.candidates(manager.kernels, "gru")
    choice = kernels.select(options, "auto", cell, CUDA, torch.bfloat16, ShapeBucket.of(batch, steps))
    assert choice.kernel.name == expected
    assert why in choice.reason
