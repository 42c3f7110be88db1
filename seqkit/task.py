"""The task contract: records → examples → batches, the model, its loss, metrics and predictions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from torch import Tensor, nn

from seqkit.data import Record
from seqkit.data.tokenize import Tokenizer
from seqkit.export.spec import ExportError, ExportGraph
from seqkit.predict_options import PredictOption
from seqkit.rnn.recurrent import Recurrent

# cell_factory(input_size, **changes) -> a seqkit.Recurrent built from the recipe's model.cell section; *changes*
# override its runner options (hidden_size, num_layers, bidirectional, dropout, backend, the initialisers, L2
# penalties and regularisers) for one stack, e.g. a decoder's bidirectional=False; any other keyword sets an option
# of the cell itself (a value the task learned from its data).
CellFactory = Callable[[int], Recurrent]


class Task:
    """Base class of task plugins; ``build(**task_options)`` from the recipe's ``task`` section returns one.

    The wiring calls, in order: :meth:`setup` with the training records (learn a label set, ...),
    :meth:`encode` on every record, :meth:`build_model`, then per batch :meth:`collate`,
    :meth:`forward_loss` and :meth:`update_metrics`; :meth:`predict` serves ``seqkit predict``.
    Everything a task learns from data goes in :meth:`state_dict`, saved in the checkpoint as plain data.
    """

    #: whether the task reads text: False lets a recipe leave out its ``tokenizer`` section, and every method
    #: that takes a tokenizer then gets None (numeric series, images, anything the task encodes itself)
    needs_tokenizer: bool = True
    #: the metric checkpoints and early stopping follow by default, and whether larger is better
    monitor: str = "val/loss"
    monitor_mode: str = "min"
    #: the keyword options of :meth:`predict` beyond its three arguments: ``seqkit predict`` offers each as a
    #: flag (shown by ``seqkit predict --help``), ``seqkit serve`` as a request field where ``per_request``
    predict_options: ClassVar[tuple[PredictOption, ...]] = ()

    def setup(self, train: Sequence[Record], tokenizer: Tokenizer | None) -> None:
        """Learn what the task needs from the training records (e.g. the label set)."""

    def texts(self, records: Sequence[Record]) -> list[str]:
        """The texts the tokenizer is fit on; by default every field but ``label``."""
        return [str(v) for r in records for k, v in r.items() if k != "label"]

    def encode(self, record: Record, tokenizer: Tokenizer | None, *, source: str = "", index: int = 0) -> Any:
        """One record → one example (token ids, label index, ...); *source*/*index* name it in errors."""
        raise NotImplementedError

    def length(self, example: Any) -> int:
        """The example's length, for bucketing."""
        raise NotImplementedError

    def batch_weight(self, batch: dict[str, Tensor]) -> int:
        """How many items ``forward_loss``'s loss is the mean over: the batch's examples by default; a task
        whose loss is a mean over tokens returns its token count. Losses are averaged with these weights
        across batches and processes, so a split's loss does not depend on how it was batched."""
        return int(batch["lengths"].shape[0])

    def collate(self, examples: list[Any]) -> dict[str, Tensor]:
        """Examples → one padded batch (:func:`seqkit.pad_sequences` pads ids or float features); it must hold
        ``"lengths"`` ``(B,)``: seqkit reads the batch size from it, and the cell needs it."""
        raise NotImplementedError

    def build_model(self, cell_factory: CellFactory, tokenizer: Tokenizer | None, **model_options: Any) -> nn.Module:
        """The model; ``model_options`` are the recipe's ``model`` keys other than ``cell``."""
        raise NotImplementedError

    def forward_loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Any]:
        """``(scalar loss, outputs)``; outputs are what :meth:`update_metrics` reads."""
        raise NotImplementedError

    def metrics(self) -> dict[str, Any]:
        """Fresh torchmetrics metrics by short name (``accuracy``, ``f1``); logged as ``val/<name>``."""
        return {}

    def begin_stage(self, stage: str) -> None:
        """Called before each evaluation epoch with ``"val"`` or ``"test"`` (e.g. to choose a decoding mode)."""

    def update_metrics(self, metrics: dict[str, Any], outputs: Any, batch: dict[str, Tensor]) -> None:
        raise NotImplementedError

    def predict(self, model: nn.Module, texts: list[str], tokenizer: Tokenizer | None) -> list[dict[str, Any]]:
        """One JSON-ready dict per input: *texts* are ``seqkit predict``'s inputs as given, one per argument or
        non-blank ``--input`` line, unparsed; a task whose inputs are not text parses them itself (numbers, JSON)."""
        raise NotImplementedError

    def format_prediction(self, result: dict[str, Any]) -> Sequence[str | tuple[str, ...]] | None:
        """The lines ``seqkit predict`` prints for one of :meth:`predict`'s results (without ``--json``); None, the
        default, prints its fields tab-separated. A line may be a tuple of fields, printed tab-separated. seqkit escapes
        control characters in every line (every field) it prints."""
        return None

    def format_metrics(self, metrics: dict[str, float]) -> list[str] | None:
        """The lines ``seqkit eval`` prints for *metrics* (``{"test/loss": ..., "test/<name>": ...}``), e.g. a
        per-class table; None, the default, prints one ``name: value`` line each. ``--json`` prints the metrics."""
        return None

    def export_graphs(self, model: nn.Module) -> list[ExportGraph]:
        """The graphs ``seqkit export`` writes for *model* (in eval mode), each a module with named example inputs.

        A classifier or tagger returns one graph, the whole model (``tokens (B, T)``, ``lengths (B,)`` ->
        ``logits``); an encoder–decoder returns the encoder and one decoder step, so decoding loops run outside
        Python. Every :class:`seqkit.Recurrent` inside exports as its cell's native ONNX operator.
        The default refuses: the task has said nothing about what to export.
        """
        raise ExportError(f"task {type(self).__name__} does not say what to export (it defines no export_graphs)")

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`setup` learned."""
