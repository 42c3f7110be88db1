"""Classify numeric series with missing values: no tokenizer; ``seqkit predict`` lines are parsed here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import torch
import torchmetrics
from torch import Tensor, nn
from torch.nn import functional as F

import seqkit
from seqkit_series.data import parse_values


class SeriesModel(nn.Module):
    """Recurrent layers over ``(value, mask)`` steps, mean-pooled over each series' real steps, then a linear layer."""

    def __init__(self, rnn: seqkit.Recurrent, labels: int) -> None:
        super().__init__()
        self.rnn = rnn
        self.out = nn.Linear(rnn.num_directions * rnn.output_size, labels)

    def forward(self, values: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.rnn(values, lengths, extras={"mask": mask})  # (B, T, D*H), zero past each end
        pooled = out.sum(1) / lengths.clamp(min=1)[:, None].to(out.dtype)
        return self.out(pooled)


class SeriesTask(seqkit.Task):
    """Records ``{"values": [float or None, ...], "label": str}``; the label set and the mean value come from setup."""

    needs_tokenizer = False
    monitor = "val/accuracy"
    monitor_mode = "max"

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.mean = 0.0

    def setup(self, train: Sequence[seqkit.Record], tokenizer: seqkit.Tokenizer | None) -> None:
        self.labels = sorted({str(r["label"]) for r in train})
        observed = [v for r in train for v in r["values"] if v is not None]
        self.mean = sum(observed) / len(observed) if observed else 0.0

    def encode(
        self, record: seqkit.Record, tokenizer: seqkit.Tokenizer | None, *, source: str = "", index: int = 0
    ) -> Any:
        values = record.get("values")
        if not isinstance(values, list) or not values:
            raise seqkit.DataError(
                f"{seqkit.where_of(record, f'{source} record {index}')}: expected a non-empty 'values' list"
            )
        label = str(record["label"])
        if label not in self.labels:
            raise seqkit.DataError(f"{seqkit.where_of(record, f'{source} record {index}')}: unknown label {label!r}")
        return _series(values), self.labels.index(label)

    def length(self, example: Any) -> int:
        return int(example[0][0].shape[0])

    def collate(self, examples: list[Any]) -> dict[str, Tensor]:
        values, lengths = seqkit.pad_sequences([e[0][0] for e in examples])  # (B, T, 1) float32
        mask, _ = seqkit.pad_sequences([e[0][1] for e in examples])
        return {"values": values, "mask": mask, "lengths": lengths, "labels": torch.tensor([e[1] for e in examples])}

    def build_model(self, cell_factory: seqkit.CellFactory, tokenizer: seqkit.Tokenizer | None) -> nn.Module:
        # what setup learned goes into the cell's options: it fills missing inputs with the training mean
        return SeriesModel(cell_factory(1, fill=self.mean), len(self.labels))

    def forward_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Any]:
        logits = model(batch["values"], batch["mask"], batch["lengths"])
        return F.cross_entropy(logits, batch["labels"]), logits

    def metrics(self) -> dict[str, Any]:
        return {"accuracy": torchmetrics.Accuracy(task="multiclass", num_classes=max(len(self.labels), 2))}

    def update_metrics(self, metrics: dict[str, Any], outputs: Any, batch: dict[str, Tensor]) -> None:
        metrics["accuracy"].update(outputs.argmax(-1), batch["labels"])

    def predict(self, model: nn.Module, texts: list[str], tokenizer: seqkit.Tokenizer | None) -> list[dict[str, Any]]:
        """Each input is ``1.5,,2,nan`` or a JSON line ``{"values": [1.5, null, 2]}``."""
        examples = [_series(_parse(text, i)) for i, text in enumerate(texts)]
        batch = self.collate([(e, 0) for e in examples])
        device = next(model.parameters()).device
        model.eval()
        with torch.no_grad():
            probs = model(batch["values"].to(device), batch["mask"].to(device), batch["lengths"].to(device)).softmax(-1)
        best = probs.max(-1)
        return [
            {"label": self.labels[int(i)], "probability": round(float(p), 4), "text": text}
            for i, p, text in zip(best.indices, best.values, texts)
        ]

    def state_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "mean": self.mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labels, self.mean = list(state["labels"]), float(state["mean"])


def _series(values: list[Any]) -> tuple[Tensor, Tensor]:
    """``(T, 1)`` values (0 where missing: the cell fills them) and ``(T, 1)`` mask, 1 where observed."""
    observed = [v is not None for v in values]
    numbers = [float(v) if v is not None else 0.0 for v in values]
    return torch.tensor(numbers).unsqueeze(1), torch.tensor(observed, dtype=torch.float32).unsqueeze(1)


def _parse(text: str, index: int) -> list[float | None]:
    text = text.strip()
    where = f"input {index + 1}"
    if text.startswith("{"):
        try:
            values = json.loads(text)["values"]
        except (ValueError, KeyError, TypeError):
            raise seqkit.InvalidArgumentError(f"{where}: expected a JSON object with a 'values' list") from None
    else:
        try:
            values = parse_values(text, where)
        except ValueError as error:
            raise seqkit.InvalidArgumentError(str(error)) from None
    if not isinstance(values, list) or not values:
        raise seqkit.InvalidArgumentError(f"{where}: expected at least one value")
    return values
