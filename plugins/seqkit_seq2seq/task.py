"""The shared sequence-to-sequence task: pairs → encoder–decoder, label-smoothed loss, decoding, predict."""

from __future__ import annotations

import copy as copying
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import torch
from torch import Tensor, nn

from seqkit import (
    PAD_ID,
    CellFactory,
    DataError,
    ExportGraph,
    Probability,
    Range,
    Record,
    SeqkitError,
    Task,
    Tokenizer,
    Width,
    where_of,
)
from seqkit_seq2seq.attention import AttentionKind
from seqkit_seq2seq.examples import Example, collate, extend, pieces_text, source_ids
from seqkit_seq2seq.export import export_graphs
from seqkit_seq2seq.model import Seq2SeqModel, n_ext
from seqkit_seq2seq.plot import numbered, plot_attention
from seqkit_seq2seq.predict_options import PREDICT_OPTIONS, prediction_lines
from seqkit_seq2seq.search import Hypothesis, SearchOptions, search

Decoding = Literal["greedy", "beam"]
# a weight, GNMT's length penalty α or a length ratio: NaN or an infinity would poison every score it enters
NonNegative = Annotated[float, Range(0)]
PREDICT_BATCH = 64


class Seq2SeqTask(Task):
    """``{"source", "target"}`` records (optional ``references``: every text an output is scored against).

    Vocabulary: with ``shared_vocab: true`` the recipe's tokenizer is fit on sources and targets together;
    with ``false`` it is fit on the sources, and the task fits a copy of it (same kind and options) on the
    targets and keeps it in its state. Decoding options (``beam_size`` …) are :class:`SearchOptions`;
    ``val_decoding``/``test_decoding`` choose greedy or beam search for the metrics of each stage.
    """

    monitor = "val/loss"
    monitor_mode = "min"
    predict_options = PREDICT_OPTIONS

    #: ``copy``'s default (summarization turns the pointer-generator on)
    copy_default = False

    def __init__(
        self,
        *,
        shared_vocab: bool = True,
        max_source_length: int | None = None,
        max_target_length: int | None = None,
        label_smoothing: Probability = 0.1,
        copy: bool | None = None,
        coverage_weight: NonNegative = 0.0,
        val_decoding: Decoding = "greedy",
        test_decoding: Decoding = "beam",
        beam_size: int = 5,
        n_best: int = 1,
        length_penalty: NonNegative = 0.0,
        min_length: int = 0,
        max_length: int = 100,
        max_length_a: NonNegative | None = None,
        max_length_b: int = 10,
        no_repeat_ngram_size: int = 0,
    ) -> None:
        for name, value in (("max_source_length", max_source_length), ("max_target_length", max_target_length)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if coverage_weight < 0:
            raise ValueError(f"coverage_weight must not be negative, got {coverage_weight}")
        copy = self.copy_default if copy is None else copy
        if copy and not shared_vocab:
            raise ValueError("copy needs shared_vocab: true (copied source pieces are target pieces)")
        for name, value in (("val_decoding", val_decoding), ("test_decoding", test_decoding)):
            if value not in ("greedy", "beam"):
                raise ValueError(f"{name} must be greedy or beam, got {value!r}")
        self.shared_vocab = shared_vocab
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.label_smoothing = label_smoothing
        self.copy = copy
        self.coverage_weight = coverage_weight
        self.decoding = {"val": val_decoding, "test": test_decoding}
        self.search = SearchOptions(
            beam_size=beam_size,
            n_best=n_best,
            length_penalty=length_penalty,
            min_length=min_length,
            max_length=max_length,
            max_length_a=max_length_a,
            max_length_b=max_length_b,
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        self.stage = "val"
        self._target: Tokenizer | None = None
        self._target_state: dict[str, Any] | None = None
        self._decode_tokenizer: Tokenizer | None = None  # the target side's, set by build_model
        # What batches cannot hold as tensors, by Example.id: reference texts and the copy mechanism's
        # out-of-vocabulary source pieces (batches carry the ids, so they stay dicts of tensors).
        self._references: list[list[str]] = []
        self._oovs: list[list[str]] = []

    # -- vocabularies ------------------------------------------------------------------------------------
    def texts(self, records: Sequence[Record]) -> list[str]:
        sources = [r["source"] for r in records]
        return sources + [r["target"] for r in records] if self.shared_vocab else sources

    def setup(self, train: Sequence[Record], tokenizer: Tokenizer) -> None:
        if not self.shared_vocab:
            self._target = copying.deepcopy(tokenizer).fit([r["target"] for r in train])

    def target_tokenizer(self, tokenizer: Tokenizer) -> Tokenizer:
        """The target side's tokenizer: *tokenizer* itself with a shared vocabulary, else the task's own."""
        if self.shared_vocab:
            return tokenizer
        if self._target is None:
            if self._target_state is None:
                raise SeqkitError("the target tokenizer is neither fitted (setup) nor restored (load_state_dict)")
            self._target = copying.deepcopy(tokenizer)
            self._target.load_state_dict(self._target_state)
        return self._target

    def state_dict(self) -> dict[str, Any]:
        if self.shared_vocab:
            return {}
        return {"target_tokenizer": self._target.state_dict() if self._target is not None else self._target_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._target, self._target_state = None, state.get("target_tokenizer")

    # -- examples ----------------------------------------------------------------------------------------
    def encode(self, record: Record, tokenizer: Tokenizer, *, source: str = "", index: int = 0) -> Example:
        where = where_of(record, f"{source or 'data'} record {index}")
        for key in ("source", "target"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise DataError(f"{where}: record has no {key} text")
        target_tok = self.target_tokenizer(tokenizer)
        src = source_ids(record["source"], tokenizer, self.max_source_length)
        tgt = target_tok.encode(record["target"])[: self.max_target_length]
        oovs: list[str] = []
        ext = target_ext = None
        if self.copy:
            ext, target_ext, oovs = extend(
                record["source"], record["target"], tokenizer, self.max_source_length, self.max_target_length
            )
        self._references.append(list(record.get("references") or [record["target"]]))
        self._oovs.append(oovs)
        return Example(src, tgt, len(self._references) - 1, ext, target_ext, len(oovs))

    def length(self, example: Example) -> int:
        return max(len(example.source), len(example.target) + 1)

    def collate(self, examples: list[Example]) -> dict[str, Any]:
        return collate(examples)

    # -- model and loss ----------------------------------------------------------------------------------
    def build_model(
        self,
        cell_factory: CellFactory,
        tokenizer: Tokenizer,
        *,
        embed_dim: Width = 256,
        dropout: Probability = 0.2,
        attention: AttentionKind = "general",
        input_feeding: bool = True,
        tie_embeddings: bool = False,
        share_embeddings: bool = False,
    ) -> nn.Module:
        self._decode_tokenizer = self.target_tokenizer(tokenizer)
        encoder = cell_factory(embed_dim)
        hidden = encoder.output_size  # the decoder's, too: same cell and sizes; input feeding adds one such vector
        decoder = cell_factory(embed_dim + (hidden if input_feeding else 0), bidirectional=False)
        return Seq2SeqModel(
            tokenizer.vocab_size,
            self.target_tokenizer(tokenizer).vocab_size,
            embed_dim,
            encoder,
            decoder,
            attention=attention,
            dropout=dropout,
            input_feeding=input_feeding,
            tie_embeddings=tie_embeddings,
            share_embeddings=share_embeddings,
            copy=self.copy,
            coverage=self.coverage_weight > 0,
        )

    def export_graphs(self, model: nn.Module) -> list[ExportGraph]:
        """``encoder`` and ``decoder_step`` (with attention): greedy and beam search run on them outside Python."""
        return export_graphs(model, type(self).__name__)

    def batch_weight(self, batch: dict[str, Any]) -> int:
        return int(batch["target_lengths"].sum())  # the loss is a mean over target tokens (with <eos>)

    def forward_loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        log_probs, _, coverage = model(batch)  # (B, T, V'), (B, T, S), (B, T)
        gold = batch["target_out"]
        mask = gold != PAD_ID
        nll = -log_probs.gather(-1, gold.unsqueeze(-1)).squeeze(-1)
        loss = nll
        if self.label_smoothing > 0:
            vocab = model.target_vocab  # smoothing mass over the fixed vocabulary, not the copy slots
            smooth = -log_probs[..., :vocab].mean(-1)
            loss = (1 - self.label_smoothing) * nll + self.label_smoothing * smooth
        total = (loss * mask).sum() / mask.sum().clamp(min=1)
        if self.coverage_weight > 0:
            total = total + self.coverage_weight * (coverage * mask).sum() / mask.sum().clamp(min=1)
        outputs: dict[str, Any] = {}
        if not model.training:  # evaluation: decode, so metrics score real outputs
            hyps = self.generate(model, batch, self.decoding.get(self.stage, "greedy"))
            oovs = self._batch_oovs(batch)
            outputs["hypotheses"] = [pieces_text(h[0].tokens, self._decode_tokenizer, o) for h, o in zip(hyps, oovs)]
        return total, outputs

    def begin_stage(self, stage: str) -> None:
        self.stage = stage

    def update_metrics(self, metrics: dict[str, Any], outputs: dict[str, Any], batch: dict[str, Any]) -> None:
        if "hypotheses" not in outputs:  # a training-mode forward decodes nothing
            return
        ids = batch["example_id"].tolist()
        if any(not 0 <= i < len(self._references) for i in ids):
            # scoring against an empty reference would give a wrong BLEU/ROUGE without a word
            raise SeqkitError("a batch holds an example this task did not encode: its references are unknown")
        references = [self._references[i] for i in ids]
        for metric in metrics.values():
            metric.update(outputs["hypotheses"], references)

    def _batch_oovs(self, batch: dict[str, Any]) -> list[list[str]]:
        ids = batch["example_id"].tolist()
        return [self._oovs[i] if 0 <= i < len(self._oovs) else [] for i in ids]

    # -- decoding ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self, model: nn.Module, batch: dict[str, Any], mode: str, options: SearchOptions | None = None
    ) -> list[list[Hypothesis]]:
        memory, state = model.encode(batch["source"], batch["lengths"], batch.get("source_ext"), n_ext(batch))
        return search(model, memory, state, batch["lengths"], options or self.search, mode)

    @torch.no_grad()
    def predict(
        self,
        model: nn.Module,
        texts: list[str],
        tokenizer: Tokenizer,
        *,
        beam_size: int | None = None,
        n_best: int | None = None,
        attention_plot: str | None = None,
    ) -> list[dict[str, Any]]:
        """``{"text", "output", "score"}`` per text (and ``n_best``: ``[{"output", "score"}, …]`` when above 1).

        Greedy when ``beam_size`` is 1, else beam search; ``attention_plot`` writes a PNG heat map of the best
        output's attention (``out.png``; ``out-2.png`` … for further texts; needs the ``plot`` extra).
        """
        model.eval()
        size = beam_size if beam_size is not None else self.search.beam_size
        best = n_best if n_best is not None else self.search.n_best
        try:
            options = SearchOptions(**{**vars(self.search), "beam_size": size, "n_best": best})
        except ValueError as error:  # e.g. --n-best above the beam size
            raise SeqkitError(f"predict: {error} (--beam-size, --n-best, or the recipe's task section)") from None
        self._decode_tokenizer = self.target_tokenizer(tokenizer)
        device = next(model.parameters()).device
        results = []
        for start in range(0, len(texts), PREDICT_BATCH):
            chunk = texts[start : start + PREDICT_BATCH]
            pairs = [self._source_example(t, tokenizer, i) for i, t in enumerate(chunk)]
            oovs = [o for _, o in pairs]
            batch = {k: v.to(device) for k, v in collate([e for e, _ in pairs]).items()}
            hyps = self.generate(model, batch, "greedy" if size == 1 else "beam", options)
            for i, (text, found) in enumerate(zip(chunk, hyps)):
                outs = [
                    {"output": pieces_text(h.tokens, self._decode_tokenizer, oovs[i]), "score": round(h.score, 4)}
                    for h in found
                ]
                result = {"text": text, **outs[0]}
                if best > 1:
                    result["n_best"] = outs
                results.append(result)
                if attention_plot:
                    path = numbered(attention_plot, start + i)
                    source_pieces = [*tokenizer.split(text)[: self.max_source_length], "</s>"]
                    target_pieces = [*self._pieces(found[0].tokens, oovs[i]), "</s>"]
                    plot_attention(found[0].attention.cpu(), source_pieces, target_pieces, path)
        return results

    def format_prediction(self, result: dict[str, Any]) -> list[str | tuple[str, ...]]:
        return prediction_lines(result)

    def _source_example(self, text: str, tokenizer: Tokenizer, index: int) -> tuple[Example, list[str]]:
        src = source_ids(text, tokenizer, self.max_source_length)
        if not self.copy:
            return Example(src, [], index), []
        ext, _, oovs = extend(text, None, tokenizer, self.max_source_length, None)
        return Example(src, [], index, ext, [], len(oovs)), oovs

    def _pieces(self, ids: list[int], oovs: list[str]) -> list[str]:
        tok = self._decode_tokenizer
        return [oovs[t - tok.vocab_size] if t >= tok.vocab_size else tok.itos[t] for t in ids]
