"""``model.nbsvm``: one more member, fitted before training as NBSVM with a logistic loss, then held fixed."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

import seqkit
from tests.plugins.seqkit_sentiment.test_naive_bayes_init import keyword_recipe
from tests.plugins.seqkit_sentiment.test_ngram_member import ngram_rows
from tests.recipe_helpers import cli


def reference_probabilities(train, texts, classes: int, n: int, vocab: int, buckets: int, l2: float):
    """The same convex problem solved independently: log-count ratios counted in Python, then Newton's method
    with the exact Hessian on the dense float64 design matrix of the seen n-grams."""
    counts = [dict() for _ in range(classes)]
    for ids, label in train:
        for row in ngram_rows(ids, n, vocab, buckets):
            counts[label][row] = counts[label].get(row, 0) + 1
    seen = sorted(set().union(*counts))
    column = {row: j for j, row in enumerate(seen)}
    ratios = torch.zeros(len(seen), classes, dtype=torch.float64)
    for c in range(classes):
        own = [counts[c].get(row, 0) + 1.0 for row in seen]
        rest = [sum(counts[k].get(row, 0) for k in range(classes) if k != c) + 1.0 for row in seen]
        for j in range(len(seen)):
            ratios[j, c] = math.log(own[j] / sum(own)) - math.log(rest[j] / sum(rest))

    def design(texts):
        x = torch.zeros(len(texts), len(seen), dtype=torch.float64)
        for i, ids in enumerate(texts):
            for row in ngram_rows(ids, n, vocab, buckets):
                if row in column:
                    x[i, column[row]] += 1
        return x

    x, labels = design([ids for ids, _ in train]), torch.tensor([label for _, label in train])
    size = len(seen) * classes

    def objective(theta):
        w, b = theta[:size].view(len(seen), classes), theta[size:]
        logits = x @ (w * ratios) + b
        return torch.nn.functional.cross_entropy(logits, labels) + l2 * w.pow(2).sum()

    theta = torch.zeros(size + classes, dtype=torch.float64)
    for _ in range(40):
        gradient = torch.autograd.functional.jacobian(objective, theta)
        hessian = torch.autograd.functional.hessian(objective, theta)
        theta = theta - torch.linalg.lstsq(hessian, gradient).solution  # b is free up to a shift: least squares
    w, b = theta[:size].view(len(seen), classes), theta[size:]
    assert gradient.abs().max() < 1e-9  # converged
    return (design(texts) @ (w * ratios) + b).softmax(-1)


@pytest.mark.parametrize("n, classes", [(1, 2), (2, 3)])
def test_the_fitted_member_is_the_logistic_regression_optimum(n, classes):
    from seqkit_sentiment.nbsvm import nbsvm_fit
    from seqkit_sentiment.ngrams import NgramClassifier

    rng = random.Random(n)
    vocab, buckets, l2 = 9, 7, 1e-2
    train = [([rng.randrange(4, vocab) for _ in range(rng.randrange(1, 6))], rng.randrange(classes)) for _ in range(30)]
    train += [([4, 4, 4], 0)]  # a repeated n-gram counts each time
    member = NgramClassifier(vocab, classes, n, buckets).double().eval()
    nbsvm_fit(member, train, l2)
    texts = [[4, 5, 6], [8, 7], [4, 4, 4], [1], [8, 6, 4, 5, 7]]  # 1: the unknown word, never in training
    tokens, lengths = seqkit.pad_sequences(texts)
    got = member(tokens, lengths).softmax(-1)
    # L-BFGS stops once the loss changes by under 1e-9: probabilities within 1e-4 of the optimum's (leaving out
    # the naive Bayes scaling moves them by 0.14, smoothing by 0.5 instead of 1 by 0.04)
    expected = reference_probabilities(train, texts, classes, n, vocab, buckets, l2)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    assert member.weight.weight[1].abs().sum() == 0  # never seen in training: weight 0


def test_a_fixed_member_adds_to_the_mixture_but_not_to_the_loss():
    from seqkit_sentiment.model import SentimentEnsemble
    from seqkit_sentiment.ngrams import NgramClassifier
    from seqkit_sentiment.task import SentimentTask

    torch.manual_seed(0)
    learning, fixed = NgramClassifier(10, 2, 1, 1), NgramClassifier(10, 2, 1, 1)
    for member in (learning, fixed):
        torch.nn.init.normal_(member.weight.weight)
    fixed.requires_grad_(False)
    ensemble = SentimentEnsemble([learning, fixed], [0.5, 0.5])
    batch = {"tokens": torch.tensor([[4, 5], [6, 0]]), "lengths": torch.tensor([2, 1]), "labels": torch.tensor([0, 1])}
    loss, mixture = SentimentTask().forward_loss(ensemble, batch)
    own = torch.nn.functional.cross_entropy(learning(batch["tokens"], batch["lengths"]), batch["labels"])
    torch.testing.assert_close(loss, own)
    torch.testing.assert_close(mixture, ensemble(batch["tokens"], batch["lengths"]))


def test_through_a_recipe_the_member_is_fitted_before_training_and_then_held(capsys, tmp_path):
    """A learning rate too small to move a weight: only the fit can tell the labels apart. A large one: the
    fitted member's weights stay as fitted."""
    recipe = keyword_recipe(tmp_path, "")
    accuracy, fitted = {}, {}
    for name, overrides in {
        "without": [],
        "with": ["model.nbsvm=0.9"],
        "with, large rate": ["model.nbsvm=0.9", "optim.lr=0.5"],
    }.items():
        run = tmp_path / name.replace(", ", "-").replace(" ", "_")
        code, _, err = cli(capsys, "train", recipe, *overrides, f"run_dir={run}")
        assert code == 0, err
        accuracy[name] = json.loads((run / "metrics.json").read_text())["test/accuracy"]
        state = torch.load(run / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
        fitted[name] = {k: v for k, v in state.items() if ".members.2." in k}  # GRU, n-grams, then the fitted one
    assert accuracy["with"] > 0.95 and accuracy["without"] < 0.7, accuracy
    assert not fitted["without"] and fitted["with"]
    for key, value in fitted["with"].items():
        assert torch.equal(value, fitted["with, large rate"][key]), key
    code, out, _ = cli(capsys, "predict", tmp_path / "with" / "best.ckpt", "--json", "the scarlet one")
    assert code == 0 and json.loads(out)["label"] == "red"


@pytest.mark.parametrize(
    "overrides, message",
    [
        # the ranges the task declares in build_model's signature, refused by the recipe's validation
        (["model.ngrams=2", "model.nbsvm=1.5"], "command line: model.nbsvm: expected in (0, 1), got 1.5"),
        (["model.ngrams=2", "model.nbsvm=0.3", "model.nbsvm_l2=0"], "model.nbsvm_l2: expected above 0, got 0"),
        (
            ["model.ngrams=2", "model.nbsvm=0.3", "model.nbsvm_l2=.inf"],
            "model.nbsvm_l2: expected a finite number, above 0, got inf",
        ),
        (["model.nbsvm=0.3"], "model.nbsvm sets up the n-gram member: set model.ngrams too"),
    ],
)
def test_bad_nbsvm_options_are_one_line_naming_the_key(capsys, overrides, message):
    code, _, err = cli(capsys, "train", "quickstart", *overrides)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1
