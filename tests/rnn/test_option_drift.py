"""Regressions for options that create_rnn and a recipe once judged differently (each copy of a rule drifted)."""

from __future__ import annotations

import math

import pytest
import torch

import seqkit
from seqkit.config import NONFINITE_POLICIES
from seqkit.kernels import candidates
from seqkit.plugins import get_plugin_manager
from seqkit.registry import RESERVED_KERNEL_NAMES
from tests.recipe_helpers import cli


def test_a_recipe_takes_forget_bias_for_every_cell_create_rnn_takes_it_for(capsys):
    """ln_lstm declares LSTM gates: create_rnn set its forget bias, while validation refused it by name."""
    layer = seqkit.create_rnn("ln_lstm", 3, 4, forget_bias=1.0, bias_init="zeros")
    assert torch.equal(layer.bias_ih_l0[4:8], torch.ones(4))
    code, _, err = cli(capsys, "validate", "quickstart", "model.cell.kind=ln_lstm", "model.cell.forget_bias=1.0")
    assert code == 0, err
    # and both refuse it for a cell without LSTM gates, with the same reason
    code, _, err = cli(capsys, "validate", "quickstart", "model.cell.kind=ln_gru", "model.cell.forget_bias=1.0")
    assert code == 2 and "model.cell.forget_bias" in err and "LSTM gates" in err
    with pytest.raises(seqkit.InvalidArgumentError, match="LSTM gates"):
        seqkit.create_rnn("ln_gru", 3, 4, forget_bias=1.0)


@pytest.mark.parametrize("key", ["kernel_l2", "recurrent_l2", "forget_bias"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_weights_options_are_refused_by_both(capsys, key, value):
    """A NaN penalty passed ``value < 0`` in create_rnn (and a NaN forget bias passed both): the loss was NaN."""
    with pytest.raises(seqkit.InvalidArgumentError, match=key):
        seqkit.create_rnn("lstm", 3, 4, **{key: value})
    code, _, err = cli(capsys, "validate", "quickstart", "model.cell.kind=lstm", f"model.cell.{key}={value}")
    assert code == 2 and f"model.cell.{key}" in err, err


def test_validation_names_the_backends_a_layer_can_take():
    """The recipe's list of backends is the runtime's list (core kernels, then the cell's own)."""
    manager = get_plugin_manager()
    for kind in manager.cells.names():
        names = {k.name for k in candidates(manager.kernels, kind)}
        assert set(RESERVED_KERNEL_NAMES) - {"auto"} <= names


def test_on_nonfinite_policies_are_declared_once(capsys):
    from seqkit import resilience

    assert resilience.NONFINITE_POLICIES is NONFINITE_POLICIES
    for policy in NONFINITE_POLICIES:
        code, _, err = cli(capsys, "validate", "quickstart", f"on_nonfinite={policy}")
        assert code == 0, err
    code, _, err = cli(capsys, "validate", "quickstart", "on_nonfinite=ignore")
    assert code == 2 and "stop or skip_batch" in err
