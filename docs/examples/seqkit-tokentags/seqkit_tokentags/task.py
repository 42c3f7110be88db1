"""The ``tagging`` task: one tag per token; cross-entropy per token, token accuracy and entity F1; predict: tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit import PAD_ID, UNK_ID, CellFactory, DataError, Record, Task, Tokenizer, pad_sequences, where_of
from seqkit_tokentags.entities import EntityF1, spans

IGNORE = -100  # the label of padding positions: no loss, no metric


class TaggingModel(nn.Module):
    """``forward(tokens (B, T), lengths (B,)) -> logits (B, T, C)``: embedding → recurrent encoder → classifier."""

    def __init__(self, vocab_size: int, embed_dim: int, encoder: nn.Module, num_tags: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.output_size * encoder.num_directions, num_tags)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        outputs, _ = self.encoder(self.dropout(self.embed(tokens)), lengths)  # (B, T, D*H), zero past each end
        return self.classifier(self.dropout(outputs))


class TaggingTask(Task):
    """Label every token of ``{"tokens": [...], "tags": [...]}`` records with one of the tags seen in training.

    Tokens are given (whitespace-separated at predict time); each maps to the tokenizer's first piece of
    it, so any tokenizer keeps one position per token. ``entity_f1`` reads ``B-X``/``I-X``/``O`` tags.
    """

    monitor = "val/entity_f1"
    monitor_mode = "max"

    def __init__(self, *, tags: list[str] | None = None) -> None:
        self.tags = list(tags) if tags else []

    def setup(self, train: Sequence[Record], tokenizer: Tokenizer) -> None:
        if not self.tags:
            seen = {tag for record in train for tag in record["tags"]}
            self.tags = sorted(seen, key=lambda t: (t != "O", t.partition("-")[2], t))
        if len(self.tags) < 2:
            raise DataError(f"tagging needs at least two tags in the training split, found {self.tags}")

    def texts(self, records: Sequence[Record]) -> list[str]:
        return [" ".join(record["tokens"]) for record in records]

    def _ids(self, tokens: Sequence[str], tokenizer: Tokenizer) -> list[int]:
        return [(tokenizer.encode(token) or [UNK_ID])[0] for token in tokens]

    def encode(
        self, record: Record, tokenizer: Tokenizer, *, source: str = "", index: int = 0
    ) -> tuple[list[int], list[int]]:
        where = where_of(record, f"{source or 'data'} record {index}")
        tokens, tags = record.get("tokens"), record.get("tags")
        if not isinstance(tokens, list) or not isinstance(tags, list) or len(tokens) != len(tags) or not tokens:
            raise DataError(f"{where}: expected equally long, non-empty 'tokens' and 'tags' lists")
        unknown = sorted(set(tags) - set(self.tags))
        if unknown:
            raise DataError(f"{where}: unknown tags {unknown}; the task's tags are {self.tags}")
        return self._ids(tokens, tokenizer), [self.tags.index(tag) for tag in tags]

    def length(self, example: tuple[list[int], list[int]]) -> int:
        return len(example[0])

    def collate(self, examples: list[tuple[list[int], list[int]]]) -> dict[str, Tensor]:
        tokens, lengths = pad_sequences([ids for ids, _ in examples])
        labels, _ = pad_sequences([tags for _, tags in examples], pad_id=IGNORE)
        return {"tokens": tokens, "lengths": lengths, "labels": labels}

    def build_model(
        self, cell_factory: CellFactory, tokenizer: Tokenizer, *, embed_dim: int = 64, dropout: float = 0.0
    ) -> nn.Module:
        return TaggingModel(tokenizer.vocab_size, embed_dim, cell_factory(embed_dim), len(self.tags), dropout)

    def forward_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        logits = model(batch["tokens"], batch["lengths"])  # (B, T, C)
        return F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE), logits

    def metrics(self) -> dict[str, Any]:
        from torchmetrics.classification import MulticlassAccuracy

        n = max(len(self.tags), 2)
        return {
            "accuracy": MulticlassAccuracy(n, average="micro", ignore_index=IGNORE),
            "entity_f1": EntityF1(self.tags or ["O", "O"]),
        }

    def update_metrics(self, metrics: dict[str, Any], outputs: Tensor, batch: dict[str, Tensor]) -> None:
        predicted = outputs.argmax(-1)
        metrics["accuracy"].update(predicted, batch["labels"])
        lengths = batch["lengths"].tolist()
        metrics["entity_f1"].update(
            [row[:n] for row, n in zip(predicted.tolist(), lengths)],
            [row[:n] for row, n in zip(batch["labels"].tolist(), lengths)],
        )

    @torch.no_grad()
    def predict(self, model: nn.Module, texts: list[str], tokenizer: Tokenizer) -> list[dict[str, Any]]:
        model.eval()
        device = next(model.parameters()).device
        words = [text.split() or [""] for text in texts]
        tokens, lengths = pad_sequences([self._ids(w, tokenizer) for w in words])
        best = model(tokens.to(device), lengths.to(device)).argmax(-1).tolist()
        results = []
        for text, w, row in zip(texts, words, best):
            tags = [self.tags[i] for i in row[: len(w)]]
            entities = [
                {"type": kind, "text": " ".join(w[start:end]), "start": start, "end": end}
                for kind, start, end in sorted(spans(tags), key=lambda s: s[1])
            ]
            results.append({"text": text, "tags": tags, "entities": entities})
        return results

    def state_dict(self) -> dict[str, Any]:
        return {"tags": list(self.tags)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tags = list(state["tags"])
