"""``model.ngrams``: a linear classifier over token n-grams joins the sentiment ensemble as one more member."""

from __future__ import annotations

import json

import pytest
import torch

import seqkit
from tests.recipe_helpers import TINY, cli

PRIME = 1_000_003  # the member's hash, written out again here as the reference's


def member(n: int, vocab: int = 20, buckets: int = 13, classes: int = 3):
    from seqkit_sentiment.ngrams import NgramClassifier

    model = NgramClassifier(vocab, classes, n, buckets).eval()
    torch.nn.init.normal_(model.weight.weight)
    torch.nn.init.normal_(model.bias)
    return model


def ngram_rows(ids: list[int], n: int, vocab: int, buckets: int) -> list[int]:
    """The weight rows of every n-gram of *ids* up to *n* tokens, each n-gram hashed one token at a time."""
    rows = list(ids)
    for start in range(len(ids)):
        code = ids[start]
        for end in range(start + 1, min(start + n, len(ids))):
            code = (code * PRIME + ids[end]) % buckets
            rows.append(vocab + code)
    return rows


def reference(model, ids: list[int]) -> torch.Tensor:
    """The sum of the rows of every n-gram of *ids*, plus the bias."""
    return model.weight.weight[ngram_rows(ids, model.n, model.vocab_size, model.buckets)].sum(0) + model.bias


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_logits_are_the_sum_of_each_ngrams_weights(n):
    torch.manual_seed(n)
    model = member(n)
    texts = [[4, 5, 6, 7, 8, 9], [3, 3, 2], [11], [7, 6]]
    tokens, lengths = seqkit.pad_sequences(texts)
    logits = model(tokens, lengths)
    for row, ids in zip(logits, texts):
        torch.testing.assert_close(row, reference(model, ids))


def test_padding_never_changes_the_result():
    model = member(3)
    alone = model(torch.tensor([[4, 5, 6]]), torch.tensor([3]))
    padded = model(torch.tensor([[4, 5, 6, 0, 0, 0], [1, 2, 3, 4, 5, 6]]), torch.tensor([3, 6]))
    torch.testing.assert_close(padded[0], alone[0])


def test_bigrams_see_word_order_that_unigrams_cannot():
    """ "a b" is positive and "b a" negative: one bag of words, so only n-grams of two tokens can tell them apart."""
    from seqkit_sentiment.ngrams import NgramClassifier

    tokens = torch.tensor([[4, 5], [5, 4]])
    labels = torch.tensor([1, 0])
    accuracy = {}
    for n in (1, 2):
        torch.manual_seed(0)
        model = NgramClassifier(8, 2, n, 64)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
        for _ in range(50):
            loss = torch.nn.functional.cross_entropy(model(tokens, torch.tensor([2, 2])), labels)
            optimizer.zero_grad(), loss.backward(), optimizer.step()
        accuracy[n] = (model(tokens, torch.tensor([2, 2])).argmax(-1) == labels).float().mean().item()
    assert accuracy == {1: 0.5, 2: 1.0}


def test_a_higher_rate_learns_faster_under_adam():
    """Adam moves each stored weight by about its learning rate: weights read times `rate` move `rate` times as far."""
    from seqkit_sentiment.ngrams import NgramClassifier

    tokens, lengths, labels = torch.tensor([[4, 5, 6], [6, 5, 4]]), torch.tensor([3, 3]), torch.tensor([1, 0])
    losses = {}
    for rate in (1.0, 5.0):
        model = NgramClassifier(8, 2, 2, 64, rate=rate)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(20):
            loss = torch.nn.functional.cross_entropy(model(tokens, lengths), labels)
            optimizer.zero_grad(), loss.backward(), optimizer.step()
        losses[rate] = loss.item()
    assert losses[5.0] < losses[1.0] - 0.05


class _Tokenizer:
    vocab_size = 30


def test_the_member_joins_the_ensemble_and_is_checked():
    from seqkit_sentiment.model import SentimentEnsemble
    from seqkit_sentiment.ngrams import NgramClassifier
    from seqkit_sentiment.task import SentimentTask

    task = SentimentTask(labels=["neg", "pos"])
    cells = lambda n: seqkit.create_rnn("gru", n, 6)  # noqa: E731
    model = task.build_model(cells, _Tokenizer(), embed_dim=8, ngrams=2)
    assert isinstance(model, SentimentEnsemble) and len(model.members) == 2
    assert isinstance(model.members[1], NgramClassifier) and model.members[1].n == 2
    assert len(task.build_model(cells, _Tokenizer(), embed_dim=8, ensemble=3, ngrams=1).members) == 4
    for weight in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="model.ngram_weight"):
            task.build_model(cells, _Tokenizer(), ngrams=2, ngram_weight=weight)
    for key, value in (("ngram_weight", 0.5), ("ngram_rate", 5.0), ("ngram_buckets", 64)):
        with pytest.raises(ValueError, match=f"model.{key} .*set model.ngrams too"):
            task.build_model(cells, _Tokenizer(), **{key: value})
    with pytest.raises(ValueError, match="model.ngram_rate"):
        task.build_model(cells, _Tokenizer(), ngrams=2, ngram_rate=0)
    for n in (-1, 9, 10**9, True):  # a loop a step per length: a hostile recipe must not make it endless
        with pytest.raises(ValueError, match="model.ngrams must lie in"):
            task.build_model(cells, _Tokenizer(), ngrams=n)
    with pytest.raises(ValueError, match="model.ngram_buckets"):
        task.build_model(cells, _Tokenizer(), ngrams=2, ngram_buckets=0)


def test_ngram_weight_is_the_members_share_of_the_mean_probability():
    from seqkit_sentiment.task import SentimentTask

    task = SentimentTask(labels=["neg", "pos"])
    torch.manual_seed(0)
    cells = lambda n: seqkit.create_rnn("gru", n, 6)  # noqa: E731
    model = task.build_model(cells, _Tokenizer(), embed_dim=8, ensemble=2, ngrams=2, ngram_weight=0.6).eval()
    torch.nn.init.normal_(model.members[2].weight.weight)
    batch = {
        "tokens": torch.tensor([[4, 5, 6], [7, 8, 0]]),
        "lengths": torch.tensor([3, 2]),
        "labels": torch.tensor([0, 1]),
    }
    probs = [m(batch["tokens"], batch["lengths"]).softmax(-1) for m in model.members]
    expected = 0.2 * probs[0] + 0.2 * probs[1] + 0.6 * probs[2]
    torch.testing.assert_close(model(batch["tokens"], batch["lengths"]).softmax(-1), expected)
    _, outputs = task.forward_loss(model, batch)  # what the metrics see
    torch.testing.assert_close(outputs.softmax(-1), expected)


def test_a_recipe_with_an_ngram_member_trains_and_predicts(capsys, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli(
        capsys, "train", "quickstart", *TINY, "model.ngrams=2", "model.ngram_weight=0.5", f"run_dir={run}"
    )
    assert code == 0, err
    state = torch.load(run / "best.ckpt", weights_only=True)["state_dict"]
    assert state["model.members.1.weight.weight"].abs().sum() > 0  # the member learned
    code, out, _ = cli(capsys, "predict", run / "best.ckpt", "--json", "a fine film")
    assert code == 0 and 0.5 <= json.loads(out)["probability"] <= 1.0


def test_an_ensemble_with_an_ngram_member_exports_to_onnx_with_parity(tmp_path):
    import numpy as np
    import onnxruntime as ort
    from seqkit_sentiment.task import SentimentTask

    from seqkit.export.bundle import write_onnx

    task = SentimentTask(labels=["neg", "pos"])
    torch.manual_seed(0)
    model = task.build_model(lambda n: seqkit.create_rnn("gru", n, 6), _Tokenizer(), embed_dim=8, ngrams=3).eval()
    torch.nn.init.normal_(model.members[1].weight.weight)  # a trained member's weights are not all zero
    (graph,) = task.export_graphs(model)
    write_onnx(graph, tmp_path / "model.onnx")
    tokens, lengths = torch.randint(4, 30, (5, 11)), torch.tensor([11, 1, 4, 2, 7])  # wider than the traced example
    tokens[seqkit.valid_mask(lengths, 11).logical_not()] = 0
    (logits,) = ort.InferenceSession(str(tmp_path / "model.onnx")).run(
        None, {"tokens": tokens.numpy(), "lengths": lengths.numpy()}
    )
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(tokens, lengths).numpy(), atol=1e-5, rtol=0)
