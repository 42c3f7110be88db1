"""``model.ngram_init: naive_bayes``: the n-gram member starts as multinomial naive Bayes over the training split."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

import seqkit
from tests.plugins.seqkit_sentiment.test_ngram_member import ngram_rows
from tests.recipe_helpers import cli, write


def reference_posterior(train, text, classes: int, n: int, vocab: int, buckets: int, alpha: float = 1.0):
    """Multinomial naive Bayes with add-alpha smoothing over the n-grams seen in training."""
    counts = [dict() for _ in range(classes)]
    texts = [0] * classes
    for ids, label in train:
        texts[label] += 1
        for row in ngram_rows(ids, n, vocab, buckets):
            counts[label][row] = counts[label].get(row, 0) + 1
    seen = set().union(*counts)
    scores = []
    for c in range(classes):
        total = sum(counts[c].get(row, 0) + alpha for row in seen)
        score = math.log(texts[c] + alpha)
        for row in [row for row in ngram_rows(text, n, vocab, buckets) if row in seen]:
            score += math.log((counts[c].get(row, 0) + alpha) / total)
        scores.append(score)
    return torch.tensor(scores, dtype=torch.float64).softmax(0)


@pytest.mark.parametrize("n, rate", [(1, 1.0), (2, 1.0), (3, 5.0)])
def test_the_member_starts_as_naive_bayes(n, rate):
    from seqkit_sentiment.naive_bayes import naive_bayes_init
    from seqkit_sentiment.ngrams import NgramClassifier

    rng = random.Random(n)
    vocab, buckets, classes = 12, 31, 3
    train = [([rng.randrange(4, vocab) for _ in range(rng.randrange(1, 7))], rng.randrange(classes)) for _ in range(40)]
    train += [([5, 5, 5, 6], 0), ([7], 2)]  # a repeated n-gram counts each time
    member = NgramClassifier(vocab, classes, n, buckets, rate=rate).double().eval()
    naive_bayes_init(member, train)
    texts = [[4, 5, 6, 7], [11, 10], [5, 5, 5], [1], [9, 8, 7, 6, 5, 4]]  # 1: the unknown word, never in training
    tokens, lengths = seqkit.pad_sequences(texts)
    probs = member(tokens, lengths).softmax(-1)
    for row, text in zip(probs, texts):
        torch.testing.assert_close(row, reference_posterior(train, text, classes, n, vocab, buckets))


def test_ngrams_unseen_in_training_leave_the_logits_alone():
    from seqkit_sentiment.naive_bayes import naive_bayes_init
    from seqkit_sentiment.ngrams import NgramClassifier

    member = NgramClassifier(10, 2, 2, 1009).eval()
    naive_bayes_init(member, [([4, 5], 0), ([6, 7], 1), ([4, 6], 1)])
    assert (
        member.weight.weight[8:10].abs().sum() == 0 and member.weight.weight[10:].count_nonzero() == 3 * 2
    )  # three bigrams
    with_unseen = member(torch.tensor([[4, 5, 9]]), torch.tensor([3]))  # adds unigram 9 and bigram (5, 9)
    torch.testing.assert_close(with_unseen, member(torch.tensor([[4, 5]]), torch.tensor([2])))


def keyword_corpus(path, rows: int = 300):
    """Three labels, each marked by its own words among shared filler: a bag of words tells them apart."""
    rng = random.Random(0)
    words = {
        "red": ["crimson", "scarlet", "ruby"],
        "green": ["lime", "olive", "jade"],
        "blue": ["navy", "azure", "teal"],
    }
    filler = ["the", "a", "of", "and", "it", "was", "very", "quite"]
    lines = ["text\tlabel"]
    for i in range(rows):
        label = list(words)[i % 3]
        text = [*rng.sample(filler, 4), rng.choice(words[label])]
        rng.shuffle(text)
        lines.append(f"{' '.join(text)}\t{label}")
    return write(path, "\n".join(lines) + "\n")


def keyword_recipe(tmp_path, model: str):
    """One epoch on ``keyword_corpus`` with a GRU and n-grams up to 2, at a learning rate too small to move a
    weight; *model* adds keys to the ``model`` mapping (``"key: value, "``)."""
    corpus = keyword_corpus(tmp_path / "colours.tsv")
    return write(
        tmp_path / "colours.yaml",
        f"""
        data: {{kind: table, path: {corpus}, batch_size: 32, split: {{valid: 0.2, test: 0.2}}}}
        tokenizer: {{kind: word}}
        task: {{kind: sentiment}}
        model: {{embed_dim: 8, ngrams: 2, {model}cell: {{kind: gru, hidden_size: 8}}}}
        optim: {{lr: 1.0e-9}}
        trainer: {{max_epochs: 1, enable_progress_bar: false, enable_model_summary: false}}
        """,
    )


def test_through_a_recipe_the_member_knows_the_counts_before_any_update(capsys, tmp_path):
    """With a learning rate too small to move a weight, only the initialisation can tell the labels apart."""
    recipe = keyword_recipe(tmp_path, "ngram_weight: 0.99, ")
    accuracy = {}
    for init in ("zeros", "naive_bayes"):
        run = tmp_path / init
        code, _, err = cli(capsys, "train", recipe, f"model.ngram_init={init}", f"run_dir={run}")
        assert code == 0, err
        accuracy[init] = json.loads((run / "metrics.json").read_text())["test/accuracy"]
    assert accuracy["naive_bayes"] > 0.95 and accuracy["zeros"] < 0.7, accuracy
    code, out, _ = cli(capsys, "predict", tmp_path / "naive_bayes" / "best.ckpt", "--json", "the scarlet one")
    assert code == 0 and json.loads(out)["label"] == "red"


def test_bad_ngram_init_is_one_line_naming_the_key(capsys):
    code, _, err = cli(capsys, "train", "quickstart", "model.ngrams=2", "model.ngram_init=bayes")
    assert code == 2 and "model.ngram_init must be one of zeros, naive_bayes, got 'bayes'" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "train", "quickstart", "model.ngram_init=naive_bayes")
    assert code == 2 and "model.ngram_init sets up the n-gram member: set model.ngrams too" in err
