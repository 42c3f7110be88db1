"""``check_task`` (records → batches → model → loss → metrics → predictions) and ``check_dataset``."""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from seqkit.data import DataError, Record, as_splits
from seqkit.plugin.manager import PluginManager, get_plugin_manager
from seqkit.run.build import cell_factory
from seqkit.testing.common import ConformanceError, DataUnavailable, entry_name, losses_under_adam

SPLIT = {"valid": 0.1, "test": 0.1}


def check_dataset(kind: str, *, plugins: PluginManager | None = None, **options: Any) -> list[str]:
    """Build the data source *kind* with *options* (the recipe's ``data`` keys for it); the checks that passed.

    It returns records (a list, or a mapping of ``train``/``valid``/``test``) that seqkit can split;
    every record is a non-empty mapping of string keys to plain values; the same options give the same
    records. Raises :class:`DataUnavailable` when its files are missing (nothing may download in a test).
    """
    manager = plugins or get_plugin_manager()
    spec = manager.datasets.get(kind)
    entry = entry_name(f"dataset '{kind}'", spec)
    first = _load(spec.build, options, entry)
    try:
        splits = as_splits(first, SPLIT, 0, kind)
    except Exception as error:
        raise ConformanceError(entry, "splits", str(error)) from error
    for name, records in splits.items():
        for i, record in enumerate(records):
            problem = _record_problem(record)
            if problem:
                raise ConformanceError(entry, "records", f"{name} record {i}: {problem}")
    again = as_splits(_load(spec.build, options, entry), SPLIT, 0, kind)
    if json.dumps(again, sort_keys=True, default=str) != json.dumps(splits, sort_keys=True, default=str):
        raise ConformanceError(entry, "determinism", "building it twice with the same options gave other records")
    return ["build", "splits", "records", "determinism"]


def _load(build: Any, options: Mapping[str, Any], entry: str) -> Any:
    try:
        return build(**options)
    except DataError as error:
        if "not found" in str(error):
            raise DataUnavailable(f"{entry}: its data is not here: {error}") from error
        raise ConformanceError(entry, "build", f"raised DataError: {error}") from error
    except Exception as error:
        raise ConformanceError(entry, "build", f"raised {type(error).__name__}: {error}") from error


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, Mapping) or not record:
        return f"expected a non-empty mapping such as {{'text': ..., 'label': ...}}, got {record!r:.80}"
    for key, value in record.items():
        if not isinstance(key, str):
            return f"field names must be strings, got {key!r}"
        if not isinstance(value, str | int | float | bool | list | dict | type(None)):
            return f"field {key!r} holds {type(value).__name__}; records hold plain data (str, numbers, lists)"
    return None


def check_task(
    kind: str,
    *,
    records: Sequence[Record] | None = None,
    dataset: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    tokenizer: str | None = "word",
    cell: str = "gru",
    hidden_size: int = 8,
    cell_options: Mapping[str, Any] | None = None,
    model_options: Mapping[str, Any] | None = None,
    inputs: Sequence[str] | None = None,
    input_size: int | None = None,
    plugins: PluginManager | None = None,
    **task_options: Any,
) -> list[str]:
    """Check the task *kind* (built with *task_options*) end to end on *records* or the data source *dataset*.

    ``setup``, ``encode``, ``length`` and ``collate`` make padded batches of tensors; ``build_model`` with a
    small *cell*; ``forward_loss`` is a finite scalar whose gradients reach the model; metrics update and
    compute; the same seed gives the same loss; ``state_dict`` is plain data and, with the model's weights
    through ``torch.save(weights_only)``, restores the same loss; ``predict`` gives one JSON-ready dict per
    input, the same whether an input is predicted alone or beside a longer one; a few steps lower the loss.

    The first 96 records are used, and 16 of them make the batch. *tokenizer* is fit on ``task.texts`` unless the
    task sets ``needs_tokenizer = False`` (then it gets None). The model is built with ``cell_factory`` for
    *cell* (``hidden_size``, ``backend: reference`` and *cell_options*) and *model_options*, plus
    ``embed_dim=8`` where ``build_model`` takes ``embed_dim`` and *model_options* does not set it. ``predict``
    gets *inputs* (the lines a user would give ``seqkit predict``), by default ``task.texts`` of the first records
    for a text task and each record without its ``label`` as a JSON line for a task that needs no tokenizer.

    *input_size*, for a task whose inputs are features rather than text: the width of one step's features. Then
    ``build_model`` gets ``input_size=`` where it takes one that *model_options* leaves unset, and the first
    recurrent layer the model builds must take exactly that many features per step.
    """
    factory_section = {"kind": cell, "hidden_size": hidden_size, "backend": "reference", **dict(cell_options or {})}
    manager = plugins or get_plugin_manager()
    entry = entry_name(f"task '{kind}'", manager.tasks.get(kind))
    if records is None:
        if dataset is None:
            raise ValueError("check_task needs records= or dataset= (a registered data source)")
        records = as_splits(
            _load(manager.datasets.get(dataset).build, dict(dataset_options or {}), entry), SPLIT, 0, dataset
        )["train"]
    records = list(records)[:96]
    step = "build"
    try:
        step = "setup"
        task, tok = _setup(manager, kind, task_options, tokenizer, records)
        model_options = _model_options(task, model_options, input_size)
        step = "encode"
        examples = [task.encode(r, tok, source="check", index=i) for i, r in enumerate(records)]
        for i, example in enumerate(examples):
            n = task.length(example)
            if not isinstance(n, int) or n < 0:
                raise ConformanceError(entry, "encode", f"length() of example {i} is {n!r}, expected an int >= 0")
        step = "collate"
        batch = task.collate(examples[:16])
        if not isinstance(batch, dict) or not all(isinstance(v, torch.Tensor) for v in batch.values()):
            raise ConformanceError(entry, "collate", f"expected a dict of tensors, got {type(batch).__name__}")
        step = "build_model"
        model = _model(manager, task, tok, factory_section, model_options, input_size, entry)
        step = "forward_loss"
        loss, outputs = task.forward_loss(model, batch)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0 or not torch.isfinite(loss):
            raise ConformanceError(entry, "forward_loss", f"expected a finite scalar tensor, got {loss!r:.80}")
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        if not any(g is not None and bool(g.abs().sum() > 0) for g in grads):
            raise ConformanceError(
                entry, "forward_loss", "the loss has no gradient with respect to the model's parameters"
            )
        step = "metrics"
        metrics = task.metrics()
        task.update_metrics(metrics, outputs, batch)
        for name, metric in metrics.items():
            value = metric.compute()
            if not torch.isfinite(torch.as_tensor(value, dtype=torch.float64)).all():
                raise ConformanceError(entry, "metrics", f"metric {name!r} computed {value!r}")
        step = "determinism"
        other = _model(manager, task, tok, factory_section, model_options, input_size, entry)
        with torch.no_grad():
            first, second = task.forward_loss(model.eval(), batch)[0], task.forward_loss(other.eval(), batch)[0]
        if not torch.equal(first, second):
            raise ConformanceError(entry, "determinism", "two models built with the same seed give different losses")
        step = "save/load"
        _round_trip(
            manager, kind, task, tok, model, batch, factory_section, model_options, task_options, entry, tokenizer
        )
        step = "predict"
        _predict(task, model, tok, list(inputs) if inputs is not None else _inputs(task, records), entry)
        step = "training"
        _learns(task, model.train(), batch, entry)
    except ConformanceError:
        raise
    except Exception as error:
        raise ConformanceError(entry, step, f"raised {type(error).__name__}: {error}") from error
    return [
        "setup",
        "encode",
        "collate",
        "build_model",
        "forward_loss",
        "metrics",
        "determinism",
        "save/load",
        "predict",
        "training",
    ]


def _setup(
    manager: PluginManager, kind: str, options: Mapping[str, Any], tokenizer: str | None, records: list[Record]
) -> Any:
    task = manager.tasks.get(kind).build(**options)
    tok = None
    if getattr(task, "needs_tokenizer", True):
        if tokenizer is None:
            raise ValueError(f"task '{kind}' reads text: check_task needs tokenizer= (a registered tokenizer)")
        tok = manager.tokenizers.get(tokenizer).build()
        tok.fit(task.texts(records))
    task.setup(records, tok)
    return task, tok


def _model_options(task: Any, options: Mapping[str, Any] | None, input_size: int | None = None) -> dict[str, Any]:
    """*options*, with ``embed_dim=8`` (and ``input_size`` when given) where ``build_model`` takes them unset."""
    chosen = dict(options or {})
    accepted = inspect.signature(task.build_model).parameters
    if "embed_dim" in accepted:
        chosen.setdefault("embed_dim", 8)
    if input_size is not None and "input_size" in accepted:
        chosen.setdefault("input_size", input_size)
    return chosen


def _model(
    manager: PluginManager, task: Any, tok: Any, section: dict[str, Any], options: Any, width: int | None, entry: str
) -> Any:
    """The task's model, built at seed 0; given a *width*, its first recurrent layer must take that many features."""
    factory = cell_factory(section, manager)
    widths: list[int] = []

    def counting(input_size: int, **changes: Any) -> Any:
        widths.append(input_size)
        return factory(input_size, **changes)

    torch.manual_seed(0)
    model = task.build_model(counting, tok, **_model_options(task, options))
    if width is not None and widths[:1] != [width]:
        found = f"takes {widths[0]} features per step" if widths else "was never built (no cell_factory call)"
        raise ConformanceError(entry, "build_model", f"its first recurrent layer {found}; expected input_size={width}")
    return model


def _inputs(task: Any, records: list[Record]) -> list[str]:
    """What a user would pass ``seqkit predict``: texts, or records without their label as JSON lines."""
    if getattr(task, "needs_tokenizer", True):
        return [str(t) for t in task.texts(records[:8])]
    return [json.dumps({k: v for k, v in r.items() if k != "label"}) for r in records[:8]]


def _round_trip(
    manager: PluginManager,
    kind: str,
    task: Any,
    tok: Any,
    model: Any,
    batch: dict[str, torch.Tensor],
    section: dict[str, Any],
    model_options: Any,
    task_options: Mapping[str, Any],
    entry: str,
    tokenizer: str | None,
) -> None:
    state = task.state_dict()
    try:
        plain = json.loads(json.dumps(state))
    except (TypeError, ValueError) as error:
        raise ConformanceError(entry, "save/load", f"state_dict() is not plain data: {error}") from None
    restored = manager.tasks.get(kind).build(**task_options)
    restored.load_state_dict(plain)
    tok2 = None
    if tok is not None:
        tok2 = manager.tokenizers.get(tokenizer).build()
        tok2.load_state_dict(json.loads(json.dumps(tok.state_dict())))
    stream = io.BytesIO()
    torch.save(model.state_dict(), stream)
    stream.seek(0)
    torch.manual_seed(1)
    fresh = restored.build_model(cell_factory(section, manager), tok2, **_model_options(restored, model_options))
    fresh.load_state_dict(torch.load(stream, weights_only=True))
    with torch.no_grad():
        a, b = task.forward_loss(model.eval(), batch)[0], restored.forward_loss(fresh.eval(), batch)[0]
    if not torch.allclose(a, b):
        raise ConformanceError(
            entry,
            "save/load",
            f"the task and model restored from state_dict give loss {float(b):.6f}, not {float(a):.6f}",
        )


def _predict(task: Any, model: Any, tok: Any, inputs: list[str], entry: str) -> None:
    texts = inputs[:4]
    results = task.predict(model, texts, tok)
    if not isinstance(results, list) or len(results) != len(texts):
        raise ConformanceError(
            entry, "predict", f"expected a list of {len(texts)} results, one per text, got {results!r:.80}"
        )
    json.dumps(results)
    short, longest = min(inputs, key=len), max(inputs, key=len)
    alone, padded = task.predict(model, [short], tok)[0], task.predict(model, [short, longest], tok)[0]
    if json.dumps(alone, sort_keys=True) != json.dumps(padded, sort_keys=True):
        raise ConformanceError(
            entry,
            "predict",
            f"an input predicted alone gives {alone} but {padded} beside a longer one: padding leaks in",
        )


def _learns(task: Any, model: Any, batch: dict[str, torch.Tensor], entry: str, steps: int = 25) -> None:
    losses = losses_under_adam(lambda: task.forward_loss(model, batch)[0], model.parameters(), steps)
    if not losses[-1] < 0.9 * losses[0]:
        raise ConformanceError(
            entry,
            "training",
            f"{steps} Adam steps on one batch did not lower the loss ({losses[0]:.4f} → {losses[-1]:.4f})",
        )
