"""The sentiment model's regularising options: ``word_dropout`` and a ``ensemble`` of independently trained members."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import seqkit
from tests.recipe_helpers import TINY, cli


def test_word_dropout_hides_words_in_training_only():
    from seqkit_sentiment.model import SentimentModel

    torch.manual_seed(0)
    model = SentimentModel(30, 8, seqkit.create_rnn("gru", 8, 6, bidirectional=True), 2, "max", 0.0, 0.999)
    plain = SentimentModel(30, 8, seqkit.create_rnn("gru", 8, 6, bidirectional=True), 2, "max", 0.0)
    plain.load_state_dict(model.state_dict())
    one, other = torch.tensor([[4, 5, 6, 7]]), torch.tensor([[9, 10, 11, 12]])
    lengths = torch.tensor([4])
    model.eval(), plain.eval()
    assert torch.equal(model(one, lengths), plain(one, lengths))  # evaluation sees every word
    assert not torch.allclose(model(one, lengths), model(other, lengths))
    model.train()
    torch.manual_seed(1)  # with p = 0.999 every word of both sentences becomes the unknown word (p ≈ 0.99)
    assert torch.allclose(model(one, lengths), model(other, lengths))


def test_word_dropout_is_checked():
    from seqkit_sentiment.task import SentimentTask

    with pytest.raises(ValueError, match="word_dropout"):
        SentimentTask().build_model(None, None, word_dropout=1.0)


class _Tokenizer:
    vocab_size = 30


def test_an_ensemble_predicts_the_mean_probability_and_trains_each_member_on_its_own():
    from seqkit_sentiment.task import SentimentTask

    task = SentimentTask(labels=["neg", "pos"])
    torch.manual_seed(0)
    model = task.build_model(
        lambda n: seqkit.create_rnn("gru", n, 6, bidirectional=True), _Tokenizer(), embed_dim=8, ensemble=3
    ).eval()
    batch = {
        "tokens": torch.tensor([[4, 5, 6], [7, 8, 0]]),
        "lengths": torch.tensor([3, 2]),
        "labels": torch.tensor([0, 1]),
    }
    members = [m(batch["tokens"], batch["lengths"]) for m in model.members]
    assert not torch.allclose(members[0], members[1])  # independently initialised
    mean = torch.stack([m.softmax(-1) for m in members]).mean(0)
    assert torch.allclose(model(batch["tokens"], batch["lengths"]).softmax(-1), mean, atol=1e-6)
    loss, outputs = task.forward_loss(model, batch)
    assert torch.allclose(loss, torch.stack([F.cross_entropy(m, batch["labels"]) for m in members]).mean())
    assert torch.allclose(outputs.softmax(-1), mean, atol=1e-6)
    with pytest.raises(ValueError, match="ensemble"):
        task.build_model(None, _Tokenizer(), ensemble=0)


def test_an_ensemble_recipe_trains_and_predicts(capsys, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli(
        capsys, "train", "quickstart", *TINY, "model.ensemble=2", "model.word_dropout=0.1", f"run_dir={run}"
    )
    assert code == 0, err
    state = torch.load(run / "best.ckpt", weights_only=True)["state_dict"]
    assert any(k.startswith("model.members.1.") for k in state)
    code, out, _ = cli(capsys, "predict", run / "best.ckpt", "--json", "a fine film")
    assert code == 0 and 0.5 <= json.loads(out)["probability"] <= 1.0
