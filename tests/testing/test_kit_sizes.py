"""The conformance kit runs at sizes the author chooses: a cell that needs a hidden size divisible by 3 passes at 6."""

from __future__ import annotations

import pytest
import torch

import seqkit
from seqkit.testing import ConformanceError, check_cell


class Thirds(seqkit.Cell):
    """Elman step on three equal groups of units; refuses a hidden size that does not split in three."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        if hidden_size % 3:
            raise ValueError(f"hidden_size must be divisible by 3, got {hidden_size}")
        super().__init__(input_size, hidden_size)

    def parameter_shapes(self):
        return {"weight_ih": (self.hidden_size, self.input_size), "weight_hh": (self.hidden_size, self.hidden_size)}

    def step(self, params, u_t, state):
        h = torch.tanh(u_t @ params["weight_ih"].T + state[0] @ params["weight_hh"].T)
        return h, (h,)


class Plugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        register(seqkit.Spec("thirds", build=Thirds))


def test_check_cell_takes_sizes_and_passes_them_to_the_kernel_check():
    manager = seqkit.PluginManager([("thirds", Plugin)], entry_points=False)
    with pytest.raises(ConformanceError, match="build: raised .*divisible by 3, got 4"):
        check_cell("thirds", plugins=manager, finite_differences=False)  # the default hidden size, 4
    assert "training" in check_cell("thirds", plugins=manager, finite_differences=False, input_size=2, hidden_size=6)
    # check_cell's last check runs check_kernel(..., "generic") at the same sizes


class Sixths(Thirds):
    """The same step, refusing any hidden size but a multiple of 6: neither the default 4 nor the gradients' 3."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        if hidden_size % 6:
            raise ValueError(f"hidden_size must be divisible by 6, got {hidden_size}")
        super().__init__(input_size, hidden_size)


class SixthsPlugin:
    @staticmethod
    @seqkit.hookimpl
    def register_cells(register: seqkit.RegisterCell) -> None:
        register(seqkit.Spec("sixths", build=Sixths))


def test_every_check_runs_at_the_given_sizes_gradients_and_kernel_probe_included():
    from seqkit.testing import check_kernel

    manager = seqkit.PluginManager([("sixths", SixthsPlugin)], entry_points=False)
    assert "gradients" in check_cell("sixths", plugins=manager, input_size=2, hidden_size=6)
    assert "parity" in check_kernel("sixths", "generic", plugins=manager, input_size=2, hidden_size=6)
