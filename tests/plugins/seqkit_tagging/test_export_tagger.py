"""An exported tagger tags as ``seqkit predict`` does: docs/deploy.md's numpy featurisation and Viterbi over ONNX
Runtime, for a CRF with a character GRU and for a softmax output with a character CNN."""

from __future__ import annotations

import json

import pytest
import torch

from tests.export.export_helpers import deploy_code
from tests.recipe_helpers import cli

pytest.importorskip("onnxruntime")

SMALL = ["trainer.max_epochs=2", "data.size=200"]
TEXTS = [
    "Ayer vio a Ana en Madrid",
    "Zyxwvutsrqponmlkj visitó Quetzaltenango",  # unknown words, one longer than max_word_chars
    "hola",
    "El 12 de mayo Pedro García llegó a Nueva York con IBM",
]
VARIANTS = {
    "crf-char-gru": ["task.max_word_chars=8"],
    "softmax-char-cnn": ["model.output=softmax", "model.chars={kind: cnn, embed_dim: 8, hidden_size: 8}"],
}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def bundle(request, tmp_path_factory):
    from seqkit.cli import main

    root = tmp_path_factory.mktemp(request.param)
    run = root / "run"
    assert main(["train", "tagging/gru_toy", *SMALL, *VARIANTS[request.param], f"run_dir={run}"]) == 0
    assert main(["export", str(run / "best.ckpt"), "--out", str(root / "onnx")]) == 0
    return run / "best.ckpt", root / "onnx"


def test_an_exported_tagger_tags_what_seqkit_predict_does(bundle, capsys):
    checkpoint, folder = bundle
    capsys.readouterr()
    code, out, err = cli(capsys, "predict", checkpoint, "--json", *TEXTS)
    assert code == 0, err
    expected = [json.loads(line) for line in out.splitlines()]
    got = deploy_code()["tag"](TEXTS, str(folder))
    assert [g["tokens"] for g in got] == [e["tokens"] for e in expected]
    assert [g["tags"] for g in got] == [e["tags"] for e in expected]


def test_the_exported_scores_equal_the_models(bundle):
    import onnxruntime as ort

    from seqkit.checkpoint import load

    checkpoint, folder = bundle
    parts = load(checkpoint)
    model, task = parts.module.model.eval(), parts.task
    sentences = [text.split() for text in TEXTS]
    batch = task.collate([(*task._features(words), [0] * len(words)) for words in sentences])
    with torch.no_grad():
        expected = model(batch)
    inputs = deploy_code()["tagger_inputs"](sentences, json.loads((folder / "task.json").read_text()))
    session = ort.InferenceSession(str(folder / "model.onnx"))
    (emissions,) = session.run(["emissions"], inputs)
    for row, words in enumerate(sentences):  # past a sentence's end the scores are nobody's
        n = len(words)
        torch.testing.assert_close(torch.from_numpy(emissions[row, :n]), expected[row, :n], atol=1e-5, rtol=1e-4)
