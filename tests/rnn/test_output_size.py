"""A cell may declare an output width other than its state width (``Cell.output_size``): every part honours it."""

from __future__ import annotations

import types

import pytest
import torch

import seqkit
from seqkit.testing import check_cell, check_kernel, check_task


class ReadoutCell(seqkit.Cell):
    """An Elman cell that outputs a learned readout of its state, ``y = W_o h``: ``out`` wide, its state ``hidden``."""

    def __init__(self, input_size: int, hidden_size: int, *, out: int = 3) -> None:
        super().__init__(input_size, hidden_size)
        self.out = out

    @property
    def output_size(self) -> int:
        return self.out

    @property
    def options(self) -> dict:
        return {"out": self.out}

    def parameter_shapes(self) -> dict:
        h = self.hidden_size
        return {"weight_ih": (h, self.input_size), "weight_hh": (h, h), "bias_hh": (h,), "weight_ho": (self.out, h)}

    def project(self, params, x):
        return x @ params["weight_ih"].T

    def step(self, params, u_t, state):
        h = torch.tanh(u_t + state[0] @ params["weight_hh"].T + params["bias_hh"])
        return h @ params["weight_ho"].T, (h,)


def readout(out: int = 3) -> seqkit.PluginManager:
    def build(input_size, hidden_size, *, out=out):
        return ReadoutCell(input_size, hidden_size, out=out)

    hooks = types.SimpleNamespace(register_cells=seqkit.hookimpl(lambda register: register(seqkit.Spec("ro", build))))
    return seqkit.PluginManager([("readout", hooks)])  # with the built-ins: the sentiment task and its data


@pytest.mark.parametrize("out", [2, 7])  # narrower and wider than the state (5)
def test_a_stacked_bidirectional_layer_reads_and_returns_the_output_width(out):
    layer = seqkit.create_rnn("ro", 4, 5, num_layers=3, bidirectional=True, plugins=readout(out))
    assert layer.output_size == out and layer.hidden_size == 5
    assert [cell.input_size for cell in layer.cells] == [4, 2 * out, 2 * out]
    x, lengths = torch.randn(3, 6, 4), torch.tensor([6, 2, 0])
    output, state = layer(x, lengths)
    assert output.shape == (3, 6, 2 * out) and state.shape == (6, 3, 5)
    assert layer(x[:, :0])[0].shape == (3, 0, 2 * out)  # an empty time axis, too
    reference = seqkit.create_rnn(
        "ro", 4, 5, num_layers=3, bidirectional=True, backend="reference", plugins=readout(out)
    )
    reference.load_state_dict(layer.state_dict())
    assert torch.allclose(reference(x, lengths)[0], output, atol=1e-6)  # generic and reference agree


def test_the_kit_checks_the_cell_and_the_generic_kernel_at_its_output_width():
    manager = readout(3)
    assert "generic kernel" in check_cell("ro", plugins=manager, hidden_size=5)
    assert "empty time axis" in check_kernel("ro", "generic", plugins=manager, hidden_size=5)


def test_a_cell_whose_step_returns_another_width_than_it_declares_fails_the_kit():
    class Liar(ReadoutCell):
        @property
        def output_size(self) -> int:
            return self.out + 1

    hooks = types.SimpleNamespace(register_cells=seqkit.hookimpl(lambda register: register(seqkit.Spec("liar", Liar))))
    manager = seqkit.PluginManager([("liar", hooks)], entry_points=False)
    with pytest.raises(
        AssertionError, match=r"step returned h of shape \(2, 3\), expected \(2, output_size\) = \(2, 4\)"
    ):
        check_cell("liar", plugins=manager)


@pytest.mark.parametrize("width", [0, 2.5, True])
def test_a_bad_declared_output_width_is_refused_when_the_layer_is_built(width):
    class Odd(ReadoutCell):
        @property
        def output_size(self):
            return width

    hooks = types.SimpleNamespace(register_cells=seqkit.hookimpl(lambda register: register(seqkit.Spec("odd", Odd))))
    manager = seqkit.PluginManager([("odd", hooks)], entry_points=False)
    with pytest.raises(
        seqkit.InvalidArgumentError, match=rf"cell 'odd' declares output_size {width!r}; expected an integer >= 1"
    ):
        seqkit.create_rnn("odd", 2, 3, plugins=manager)


@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_the_sentiment_task_builds_its_model_on_the_output_width(pooling):
    passed = check_task(
        "sentiment",
        dataset="synthetic_sentiment",
        dataset_options={"size": 120},
        cell="ro",
        cell_options={"bidirectional": True, "num_layers": 2},
        plugins=readout(3),
        pooling=pooling,
    )
    assert "training" in passed


def test_the_translation_task_builds_its_model_on_the_output_width():
    passed = check_task(
        "translation",
        dataset="synthetic_pairs",
        dataset_options={"size": 64},
        cell="ro",
        cell_options={"bidirectional": True},
        model_options={"embed_dim": 8, "attention": "general"},
        plugins=readout(3),
    )
    assert "predict" in passed
