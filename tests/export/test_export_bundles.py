"""Exported bundles give what ``seqkit predict`` gives: a sentiment classifier and a translator (greedy decoding
in numpy + ONNX Runtime, the loop docs/deploy.md shows), and the bundle holds plain files only."""

from __future__ import annotations

import json

import pytest

from tests.export.export_helpers import deploy_code
from tests.recipe_helpers import TINY, cli

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = ["not bad", "good but boring", "truly moving story", "the", "x y z"]
REVERSE = ["trainer.max_epochs=2", "data.size=300", "trainer.enable_progress_bar=false", "model.cell.hidden_size=16"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    from seqkit.cli import main

    assert main(["train", "quickstart", *TINY, "model.cell.bidirectional=true", f"run_dir={root / 's'}"]) == 0
    assert main(["train", "translation/gru_reverse", *REVERSE, f"run_dir={root / 't'}"]) == 0
    assert main(["export", str(root / "s" / "best.ckpt"), "--out", str(root / "s-onnx")]) == 0
    assert main(["export", str(root / "t" / "best.ckpt"), "--out", str(root / "t-onnx")]) == 0
    return root


def _predicted(capsys, checkpoint, *args):
    code, out, err = cli(capsys, "predict", checkpoint, "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_an_exported_classifier_predicts_what_seqkit_predict_does(runs, capsys):
    expected = _predicted(capsys, runs / "s" / "best.ckpt", *TEXTS)
    got = deploy_code()["classify"](TEXTS, str(runs / "s-onnx"))
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    assert [g["probability"] for g in got] == pytest.approx([e["probability"] for e in expected], abs=2e-4)


def test_an_exported_translator_decodes_greedily_as_seqkit_predict_does(runs, capsys):
    sources = ["w1 w2 w3 w4", "w5 w6 w7", "w2", "w3 w3 w1 w5 w4 w6 w0", "a b"]
    expected = [r["output"] for r in _predicted(capsys, runs / "t" / "best.ckpt", "--beam-size", "1", *sources)]
    assert deploy_code()["greedy_translate"](sources, str(runs / "t-onnx")) == expected


def test_a_bundle_holds_plain_files_and_a_manifest_naming_its_graphs(runs):
    manifest = json.loads((runs / "t-onnx" / "manifest.json").read_text())
    assert manifest["task"] == "translation" and manifest["format"] == "onnx"
    graphs = {g["name"]: g for g in manifest["graphs"]}
    assert set(graphs) == {"encoder", "decoder_step"}
    assert [i["name"] for i in graphs["encoder"]["inputs"]] == ["source", "lengths"]
    assert graphs["encoder"]["inputs"][0]["shape"] == ["batch", "source"]
    assert sorted(p.name for p in (runs / "t-onnx").iterdir()) == sorted(
        ["decoder_step.onnx", "encoder.onnx", "manifest.json", "task.json", "tokenizer.json"]
    )
    task = json.loads((runs / "s-onnx" / "task.json").read_text())
    assert task["kind"] == "sentiment" and task["labels"] == ["negative", "positive"]


def test_export_refuses_a_used_folder(runs, capsys):
    code, _, err = cli(capsys, "export", runs / "s" / "best.ckpt", "--out", runs / "s-onnx")
    assert code == 2 and "not an empty folder" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_cell_without_an_onnx_operator_exports_as_a_loop_and_predicts_alike(capsys, tmp_path):
    from seqkit.cli import main

    run = tmp_path / "ln"
    assert main(["train", "quickstart", *TINY, "model.cell.kind=ln_gru", f"run_dir={run}"]) == 0
    assert main(["export", str(run / "best.ckpt"), "--out", str(tmp_path / "out")]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["graphs"][0]["operators"] == ["Loop"]
    capsys.readouterr()
    expected = _predicted(capsys, run / "best.ckpt", *TEXTS)
    got = deploy_code()["classify"](TEXTS, str(tmp_path / "out"))
    assert [g["label"] for g in got] == [e["label"] for e in expected]


@pytest.mark.parametrize(
    ("kind", "attention", "coverage"), [("lstm", "additive", True), ("gru", "dot", False)], ids=["lstm", "gru-dot"]
)
def test_encoder_and_decoder_step_graphs_match_the_model_step_by_step(kind, attention, coverage, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch
    from seqkit_seq2seq.export import export_graphs
    from seqkit_seq2seq.model import Seq2SeqModel

    import seqkit
    from seqkit.export.bundle import write_onnx

    torch.manual_seed(0)
    hidden = 8
    encoder = seqkit.create_rnn(
        kind, 6, hidden // 2 if attention == "dot" else hidden, num_layers=2, bidirectional=True
    )
    decoder = seqkit.create_rnn(kind, 6 + hidden, hidden, num_layers=2)
    model = Seq2SeqModel(20, 15, 6, encoder, decoder, attention=attention, coverage=coverage).eval()
    sessions = {}
    for graph in export_graphs(model, "test"):
        write_onnx(graph, tmp_path / f"{graph.name}.onnx")
        sessions[graph.name] = ort.InferenceSession(str(tmp_path / f"{graph.name}.onnx"))
    source, lengths = torch.randint(4, 20, (3, 7)), torch.tensor([7, 1, 4])
    enc = sessions["encoder"]
    got = dict(
        zip([o.name for o in enc.get_outputs()], enc.run(None, {"source": source.numpy(), "lengths": lengths.numpy()}))
    )
    with torch.no_grad():
        memory, state = model.encode(source, lengths)
        np.testing.assert_allclose(got["memory"], memory.outputs.numpy(), atol=1e-5, rtol=0)
        carried = {k: v for k, v in got.items() if k.startswith("state_") or k in ("feed", "coverage")}
        step = sessions["decoder_step"]
        names = [o.name for o in step.get_outputs()]
        for previous in torch.randint(4, 15, (3, 3)):  # three steps, teacher-forced
            log_probs, weights, state, _ = model.step(previous, state, memory)
            feeds = {"previous": previous.numpy(), **carried, **{k: got[k] for k in ("memory", "keys", "mask")}}
            out = dict(zip(names, step.run(None, feeds)))
            np.testing.assert_allclose(out["log_probs"], log_probs.numpy(), atol=1e-5, rtol=0)
            np.testing.assert_allclose(out["attention"], weights.numpy(), atol=1e-5, rtol=0)
            carried = {k: out[f"next_{k}"] for k in carried}


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_every_sentiment_pooling_exports_with_parity(pooling, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch
    from seqkit_sentiment.model import SentimentModel
    from seqkit_sentiment.task import SentimentTask

    import seqkit
    from seqkit.export.bundle import write_onnx

    torch.manual_seed(0)
    encoder = seqkit.create_rnn("gru", 8, 6, num_layers=2, bidirectional=True)
    model = SentimentModel(30, 8, encoder, 3, pooling, 0.0).eval()
    (graph,) = SentimentTask(pooling=pooling, labels=["a", "b", "c"]).export_graphs(model)
    write_onnx(graph, tmp_path / "model.onnx")
    tokens, lengths = torch.randint(4, 30, (5, 9)), torch.tensor([9, 1, 4, 9, 2])
    (logits,) = ort.InferenceSession(str(tmp_path / "model.onnx")).run(
        None, {"tokens": tokens.numpy(), "lengths": lengths.numpy()}
    )
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(tokens, lengths).numpy(), atol=1e-5, rtol=0)


def test_text_that_utf8_cannot_encode_is_kept_escaped(runs, tmp_path):
    """A label or word holding a lone surrogate (a byte that was not UTF-8, kept by surrogateescape) once failed
    the export after its graphs were written, leaving a partial bundle; JSON's escapes keep it exactly."""
    import torch

    from seqkit.cli import main

    saved = torch.load(runs / "s" / "best.ckpt", weights_only=True)
    saved["seqkit"]["task"]["labels"] = ["neg\udcff", "positive"]
    saved["seqkit"]["tokenizer"]["itos"][-1] = "weak\udcff"
    torch.save(saved, tmp_path / "odd.ckpt")
    assert main(["export", str(tmp_path / "odd.ckpt"), "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "task.json").read_text())["labels"][0] == "neg\udcff"
    assert json.loads((tmp_path / "out" / "tokenizer.json").read_text())["itos"][-1] == "weak\udcff"
