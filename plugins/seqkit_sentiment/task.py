"""The ``sentiment`` task: text → one label; cross-entropy, accuracy and macro F1; predict: label and probability."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit import (
    UNK_ID,
    CellFactory,
    DataError,
    ExportGraph,
    Probability,
    Range,
    Record,
    Task,
    Tokenizer,
    Width,
    pad_sequences,
    where_of,
)
from seqkit_sentiment.model import Pooling, SentimentEnsemble, SentimentModel
from seqkit_sentiment.naive_bayes import naive_bayes_init
from seqkit_sentiment.nbsvm import nbsvm_fit
from seqkit_sentiment.ngrams import NgramClassifier

PREDICT_BATCH = 256
NGRAM_BUCKETS = 1 << 20
# a member's share of the mixture: at 0 or 1 it, or every other member, would not count
Share = Annotated[float, Range(0, 1, low_open=True, high_open=True)]
# a rate multiplier or a penalty: at 0 the member would not learn, and an infinite penalty times a zero weight is NaN
Positive = Annotated[float, Range(0, low_open=True)]


NGRAM_INITS = ("zeros", "naive_bayes")
NBSVM_L2 = 1e-4  # Wang & Manning's NBSVM is fitted with a small penalty; 1e-4 and 3e-4 scored alike on MR


def _ngram_options(
    buckets: int, weight: float | None, rate: float, init: str, nbsvm: float | None, nbsvm_l2: float
) -> list[tuple[str, object, object]]:
    """``(key, value, default)`` of the options that mean something only with ``model.ngrams``."""
    return [
        ("ngram_buckets", buckets, NGRAM_BUCKETS),
        ("ngram_weight", weight, None),
        ("ngram_rate", rate, 1.0),
        ("ngram_init", init, "zeros"),
        ("nbsvm", nbsvm, None),
        ("nbsvm_l2", nbsvm_l2, NBSVM_L2),
    ]


def _learns(member: nn.Module) -> bool:
    """Whether training changes *member*: a member fitted before training (``nbsvm``) is held fixed."""
    return any(p.requires_grad for p in member.parameters())


class SentimentTask(Task):
    """Classify a text into one of the labels seen in training (``labels`` fixes their order instead)."""

    monitor = "val/accuracy"
    monitor_mode = "max"

    def __init__(
        self, *, pooling: Pooling = "max", labels: list[str | int] | None = None, max_length: int | None = None
    ) -> None:
        if pooling not in ("last", "mean", "max", "attention"):
            raise ValueError(f"pooling must be last, mean, max or attention, got {pooling!r}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be positive, got {max_length}")
        self.pooling = pooling
        self.labels = [str(label) for label in labels] if labels else []
        self.max_length = max_length
        self._train: Sequence[Record] = ()  # until the model is built: what `ngram_init: naive_bayes` counts

    def setup(self, train: Sequence[Record], tokenizer: Tokenizer) -> None:
        self._train = train
        if not self.labels:
            self.labels = sorted({str(r["label"]) for r in train})
        if len(self.labels) < 2:
            raise DataError(f"sentiment needs at least two labels in the training split, found {self.labels}")

    def texts(self, records: Sequence[Record]) -> list[str]:
        return [r["text"] for r in records]

    def encode(
        self, record: Record, tokenizer: Tokenizer, *, source: str = "", index: int = 0
    ) -> tuple[list[int], int]:
        label = str(record["label"])
        if label not in self.labels:
            where = where_of(record, f"{source or 'data'} record {index}")
            raise DataError(f"{where}: unknown label {label!r}; the task's labels are {self.labels}")
        ids = tokenizer.encode(record["text"])[: self.max_length] or [UNK_ID]
        return ids, self.labels.index(label)

    def length(self, example: tuple[list[int], int]) -> int:
        return len(example[0])

    def collate(self, examples: list[tuple[list[int], int]]) -> dict[str, Tensor]:
        tokens, lengths = pad_sequences([ids for ids, _ in examples])
        return {"tokens": tokens, "lengths": lengths, "labels": torch.tensor([y for _, y in examples])}

    def build_model(
        self,
        cell_factory: CellFactory,
        tokenizer: Tokenizer,
        *,
        embed_dim: Width = 128,
        dropout: Probability = 0.0,
        word_dropout: Probability = 0.0,
        ensemble: int = 1,
        ngrams: int = 0,
        ngram_buckets: int = NGRAM_BUCKETS,
        ngram_weight: Share | None = None,
        ngram_rate: Positive = 1.0,
        ngram_init: str = "zeros",
        nbsvm: Share | None = None,
        nbsvm_l2: Positive = NBSVM_L2,
    ) -> nn.Module:
        train, self._train = self._train, ()  # not held past the build: a large corpus would stay in memory
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"model.word_dropout must lie in [0, 1), got {word_dropout}")
        if ensemble < 1:
            raise ValueError(f"model.ensemble must be 1 or more members, got {ensemble}")
        members: list[nn.Module] = [
            SentimentModel(
                tokenizer.vocab_size,
                embed_dim,
                cell_factory(embed_dim),
                len(self.labels),
                self.pooling,
                dropout,
                word_dropout,
            )
            for _ in range(ensemble)
        ]
        if not ngrams:
            options = _ngram_options(ngram_buckets, ngram_weight, ngram_rate, ngram_init, nbsvm, nbsvm_l2)
            unused = [k for k, v, default in options if v != default]
            if unused:
                raise ValueError(f"model.{unused[0]} sets up the n-gram member: set model.ngrams too")
            return members[0] if ensemble == 1 else SentimentEnsemble(members)
        # one more member: a linear classifier over token n-grams, whose errors differ from the recurrent ones'
        if ngram_init not in NGRAM_INITS:
            raise ValueError(f"model.ngram_init must be one of {', '.join(NGRAM_INITS)}, got {ngram_init!r}")
        if nbsvm is not None and not 0.0 < nbsvm < 1.0:
            raise ValueError(f"model.nbsvm is the fitted member's share of the mixture, in (0, 1); got {nbsvm}")
        if not 0 < nbsvm_l2 < math.inf:  # an infinite penalty times a zero weight is NaN: the fit would return NaNs
            raise ValueError(f"model.nbsvm_l2 must be a positive finite number, got {nbsvm_l2}")
        ngram = NgramClassifier(tokenizer.vocab_size, len(self.labels), ngrams, ngram_buckets, word_dropout, ngram_rate)
        # fitted to the training split, once; a model rebuilt for a checkpoint (no records) takes its weights from it
        counted = ngram_init == "naive_bayes" or nbsvm is not None
        examples = [self.encode(record, tokenizer) for record in train] if counted else []
        if ngram_init == "naive_bayes" and examples:
            naive_bayes_init(ngram, examples)
        members.append(ngram)
        if ngram_weight is None:
            weights = [1.0 / len(members)] * len(members)
        elif not 0.0 < ngram_weight < 1.0:
            raise ValueError(f"model.ngram_weight must lie in (0, 1), got {ngram_weight}")
        else:
            weights = [(1 - ngram_weight) / ensemble] * ensemble + [ngram_weight]
        if nbsvm is None:
            return SentimentEnsemble(members, weights)
        # and one more, held fixed: NBSVM over the same n-grams, fitted to convergence before training
        fitted = NgramClassifier(tokenizer.vocab_size, len(self.labels), ngrams, ngram_buckets)
        if examples:
            nbsvm_fit(fitted, examples, nbsvm_l2)
        fitted.requires_grad_(False)
        return SentimentEnsemble([*members, fitted], [w * (1 - nbsvm) for w in weights] + [nbsvm])

    def forward_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        if isinstance(model, SentimentEnsemble):  # each member learns on its own; the metrics see the mixture
            members = model.member_logits(batch["tokens"], batch["lengths"])
            learning = [m for m, member in zip(members, model.members) if _learns(member)]  # not fitted ones
            loss = torch.stack([F.cross_entropy(m.float(), batch["labels"]) for m in learning or members]).mean()
            return loss, model.mixture(members)
        logits = model(batch["tokens"], batch["lengths"])
        return F.cross_entropy(logits.float(), batch["labels"]), logits

    def metrics(self) -> dict[str, Any]:
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

        n = len(self.labels) or 2
        return {"accuracy": MulticlassAccuracy(n, average="micro"), "f1": MulticlassF1Score(n, average="macro")}

    def update_metrics(self, metrics: dict[str, Any], outputs: Tensor, batch: dict[str, Tensor]) -> None:
        predictions = outputs.argmax(-1)
        for metric in metrics.values():
            metric.update(predictions, batch["labels"])

    @torch.no_grad()
    def predict(self, model: nn.Module, texts: list[str], tokenizer: Tokenizer) -> list[dict[str, Any]]:
        model.eval()
        device = next(model.parameters()).device
        results = []
        for start in range(0, len(texts), PREDICT_BATCH):  # padded batches: lengths keep padding out
            chunk = texts[start : start + PREDICT_BATCH]
            tokens, lengths = pad_sequences([tokenizer.encode(t)[: self.max_length] or [UNK_ID] for t in chunk])
            probs = model(tokens.to(device), lengths.to(device)).float().softmax(-1)
            best = probs.argmax(-1)
            for text, label, p in zip(chunk, best.tolist(), probs.gather(1, best[:, None])[:, 0].tolist()):
                results.append({"text": text, "label": self.labels[label], "probability": round(p, 4)})
        return results

    def export_graphs(self, model: nn.Module) -> list[ExportGraph]:
        """The whole classifier: ``tokens (B, T)``, ``lengths (B,)`` -> ``logits (B, C)`` in ``labels``' order."""
        example = {"tokens": torch.full((2, 3), UNK_ID), "lengths": torch.tensor([3, 2])}
        axes = {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}}
        return [ExportGraph("model", model, example, ["logits"], axes, "token ids and lengths -> label logits")]

    def state_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labels = list(state["labels"])
