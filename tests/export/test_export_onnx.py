"""ONNX export of recurrent layers: every registered cell exports as its native operator (parity with
onnxruntime within 1e-5) or is refused naming the cell; shapes, lengths and initial state stay dynamic."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import seqkit
from seqkit.export.bundle import write_onnx
from tests.export.export_helpers import Whole

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

VARIANTS = {"gru": [{"reset_after": True}, {"reset_after": False}], "rnn": [{}, {"nonlinearity": "relu"}]}
SHAPES = [(1, False), (1, True), (2, False), (2, True)]


def first_loop() -> str | None:
    specs = seqkit.get_plugin_manager().cells
    return next((s.name for s in specs if s.build.onnx_op(s.build(2, 2)) is None), None)


def _cases() -> list:
    """Every registered cell and variant, in every shape; a cell without an ONNX operator exports as a Loop through
    torch.export, which takes 5-15 s a layer on two cores: one case of those runs by default, the rest with -m slow."""
    cases, first = [], first_loop()
    for spec in seqkit.get_plugin_manager().cells:
        native = spec.build.onnx_op(spec.build(2, 2)) is not None
        for options in VARIANTS.get(spec.name, [{}]):
            for layers, bidirectional in SHAPES:
                name = "-".join(
                    [spec.name, *(f"{k}={v}" for k, v in options.items()), f"L{layers}", "bi" * bidirectional]
                )
                # of the loops, one quick case by default: the first such cell, one layer, one way
                slow = not native and (spec.name, layers, bidirectional) != (first, 1, False)
                marks = [pytest.mark.slow] if slow else []
                cases.append(pytest.param(spec.name, options, layers, bidirectional, id=name, marks=marks))
    return cases


def _export(layer: seqkit.Recurrent) -> bytes:
    parts = len(layer.cell.state_names)
    names = [f"state{k}" for k in range(parts)]
    D = layer.num_directions
    example = {
        "x": torch.randn(2, 3, layer.input_size),
        "lengths": torch.tensor([3, 2]),
        **{n: torch.zeros(layer.num_layers * D, 2, layer.hidden_size) for n in names},
    }
    axes = {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, **{n: {1: "batch"} for n in names}}
    graph = seqkit.ExportGraph("layer", Whole(layer), example, ["y", *[f"final{k}" for k in range(parts)]], axes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layer.onnx"
        write_onnx(graph, path)
        return path.read_bytes()


@pytest.mark.parametrize(("kind", "options", "layers", "bidirectional"), _cases())
def test_every_cell_exports_with_parity_natively_or_as_a_loop(kind, options, layers, bidirectional):
    import onnx

    torch.manual_seed(layers * 10 + bidirectional)
    layer = seqkit.create_rnn(kind, 5, 6, num_layers=layers, bidirectional=bidirectional, **options).eval()
    exported = _export(layer)
    operators = {n.op_type for n in onnx.load_from_string(exported).graph.node}
    native = layer.cell.onnx_op()
    assert (native.op in operators and "Loop" not in operators) if native else "Loop" in operators
    session = ort.InferenceSession(exported)
    # native nodes: 1e-5. A Loop runs the cell's own step op by op in ONNX Runtime; the layer-normalised cells'
    # normalisation of 6-wide vectors amplifies float32 rounding, up to 3e-5 after two bidirectional layers.
    tolerance = 1e-5 if native else 5e-5
    rng = np.random.default_rng(layers + 2 * bidirectional)
    for batch, steps in ((1, 1), (5, 9)):  # other sizes than the example: both axes are dynamic
        lengths = rng.integers(1, steps + 1, size=batch)
        lengths[0] = 1  # a one-step sequence always
        x = torch.randn(batch, steps, 5)
        parts = len(layer.cell.state_names)
        state = [torch.randn(layers * layer.num_directions, batch, 6) for _ in range(parts)]
        feed = {"x": x.numpy(), "lengths": lengths, **{f"state{k}": s.numpy() for k, s in enumerate(state)}}
        got = session.run(None, feed)
        with torch.no_grad():
            out, final = layer(x, torch.from_numpy(lengths), state[0] if parts == 1 else tuple(state))
        finals = (final,) if parts == 1 else final
        np.testing.assert_allclose(got[0], out.numpy(), atol=tolerance, rtol=0)
        for g, f in zip(got[1:], finals):
            np.testing.assert_allclose(g, f.numpy(), atol=tolerance, rtol=0)


def test_the_gru_formulations_export_as_linear_before_reset_1_and_0():
    import onnx

    for reset_after, flag in ((True, 1), (False, 0)):
        model = onnx.load_from_string(_export(seqkit.create_rnn("gru", 3, 4, reset_after=reset_after).eval()))
        (node,) = [n for n in model.graph.node if n.op_type == "GRU"]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["linear_before_reset"] == flag
        assert not [n for n in model.graph.node if n.op_type == "Loop"]  # one fused node, no step loop


def test_a_stack_without_state_or_lengths_exports_with_zero_state_and_full_lengths(tmp_path):
    layer = seqkit.create_rnn("lstm", 4, 5, num_layers=2).eval()

    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x)[0]

    path = tmp_path / "plain.onnx"
    write_onnx(seqkit.ExportGraph("plain", Plain(), {"x": torch.randn(1, 2, 4)}, ["y"], {"x": {0: "b", 1: "t"}}), path)
    x = torch.randn(3, 7, 4)
    (got,) = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})
    np.testing.assert_allclose(got, layer(x)[0].detach().numpy(), atol=1e-5, rtol=0)
