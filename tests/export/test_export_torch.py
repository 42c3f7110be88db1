"""``--format torch``: any cell's layer exports as a ``torch.export`` program whose time loop stays a loop (dynamic
batch and time), with outputs and final state equal to seqkit's; a sentiment bundle loads and predicts alike."""

from __future__ import annotations

import json

import pytest
import torch

import seqkit
from seqkit.export.bundle import write_torch
from tests.export.export_helpers import Whole
from tests.recipe_helpers import TINY, cli

SLOW = pytest.mark.slow  # torch.export takes 5-15 s a layer on a loaded 2-core machine


@pytest.mark.parametrize(
    ("kind", "options", "layers", "bidirectional"),
    [
        pytest.param("ln_gru", {}, 1, False, id="ln_gru"),  # a cell without an ONNX operator
        pytest.param("gru", {"reset_after": False}, 2, True, id="gru-reset-before-2-bi", marks=SLOW),
        pytest.param("ln_lstm", {}, 1, True, id="ln_lstm-bi", marks=SLOW),
        pytest.param("rnn", {"nonlinearity": "relu"}, 2, False, id="rnn-relu-2", marks=SLOW),
    ],
)
def test_a_layer_exports_as_a_loop_with_dynamic_axes_and_parity(kind, options, layers, bidirectional, tmp_path):
    torch.manual_seed(0)
    layer = seqkit.create_rnn(kind, 4, 5, num_layers=layers, bidirectional=bidirectional, **options).eval()
    parts = len(layer.cell.state_names)
    rows = layers * layer.num_directions
    names = [f"state{k}" for k in range(parts)]
    example = {
        "x": torch.randn(2, 3, 4),
        "lengths": torch.tensor([3, 2]),
        **{n: torch.zeros(rows, 2, 5) for n in names},
    }
    axes = {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, **{n: {1: "batch"} for n in names}}
    graph = seqkit.ExportGraph("layer", Whole(layer), example, ["y", *names], axes)
    write_torch(graph, tmp_path / "layer.pt2")
    program = torch.export.load(str(tmp_path / "layer.pt2")).module()
    x, lengths = torch.randn(4, 8, 4), torch.tensor([8, 1, 5, 3])  # other sizes than the example's
    state = [torch.randn(rows, 4, 5) for _ in range(parts)]
    with torch.no_grad():
        got = program(x, lengths, *state)
        out, final = layer(x, lengths, state[0] if parts == 1 else tuple(state))
    expected = (out, final) if parts == 1 else (out, *final)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_a_sentiment_bundle_in_torch_format_predicts_as_seqkit_does(tmp_path, capsys):
    from seqkit.cli import main

    assert main(["train", "quickstart", *TINY, f"run_dir={tmp_path / 'run'}"]) == 0
    assert main(["export", str(tmp_path / "run" / "best.ckpt"), "--format", "torch", "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["format"] == "torch" and manifest["graphs"][0]["file"] == "model.pt2"
    program = torch.export.load(str(tmp_path / "b" / "model.pt2")).module()
    tokens, lengths = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), torch.tensor([4, 2])
    code, _, _ = cli(capsys, "predict", tmp_path / "run" / "best.ckpt", "x")
    assert code == 0
    from seqkit.checkpoint import load

    model = load(tmp_path / "run" / "best.ckpt").module.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(program(tokens, lengths), model(tokens, lengths), atol=1e-5, rtol=0)
