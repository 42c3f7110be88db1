"""The ``tagging`` task: one tag per token (named entities, part of speech, chunks, slots), softmax or CRF."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import torch
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
    Width,
    pad_sequences,
    where_of,
)
from seqkit_tagging.model import IGNORE, Tagger, build_tagger
from seqkit_tagging.report import prediction_lines, score_table
from seqkit_tagging.schemes import allowed_transitions, detect_scheme, entity_spans
from seqkit_tagging.words import casing

FIRST_ID = 2  # ids 0 and 1 of the word and character vocabularies are padding and the unknown one
_TOKEN = re.compile(r"\S+")

# what state_dict saves; lowercase and max_word_chars are recipe options, kept too so that an exported bundle's
# task.json says how to turn tokens into the model's inputs
_STATE = ("tags", "words", "rare", "chars", "constraints", "lowercase", "max_word_chars")
Example = tuple[list[int], list[list[int]], list[int], list[int]]  # words, characters, casings, tags


class TaggingTask(Task):
    """Label every token of ``{"tokens": [...], "tags": [...]}`` records with one of the tags seen in training.

    The task keeps its own vocabularies (it reads pre-tokenised text, so no ``tokenizer`` section): words
    (``lowercase``d when asked: the casing feature keeps what lowercasing loses) seen ``min_freq`` times,
    and the training words' characters. ``scheme``: the tagging scheme whose transitions the CRF allows
    (``auto`` tells IOB/IOB2 from IOBES by the tags; ``none``: any). At predict time texts are split at
    whitespace.
    """

    needs_tokenizer = False
    monitor = "val/entity_f1"
    monitor_mode = "max"
    _output = "crf"  # build_model's output, which batch_weight reads

    def __init__(
        self,
        *,
        tags: list[str] | None = None,
        scheme: Literal["auto", "iob", "iobes", "none"] = "auto",
        lowercase: bool = True,
        min_freq: int = 1,
        rare_freq: int = 1,
        max_word_chars: int = 30,
        tbptt_steps: int | None = None,
    ) -> None:
        """``tbptt_steps``: seqkit's ``task.tbptt_steps``, which the character encoder (a layer this task builds
        itself, not with the cell factory) trains with too."""
        if min_freq < 1 or rare_freq < 0 or max_word_chars < 1:
            raise ValueError("min_freq and max_word_chars must be at least 1, rare_freq at least 0")
        self.tags = list(tags) if tags else []
        self.scheme, self.lowercase, self.min_freq = scheme, lowercase, min_freq
        self.rare_freq, self.max_word_chars = rare_freq, max_word_chars
        self.tbptt_steps = tbptt_steps
        self.words: list[str] = []
        self.rare: list[int] = []
        self.chars: list[str] = []
        self.constraints: list[list[list[bool]]] | None = None

    # --- what the task learns from the training split -------------------------------------------------------
    def setup(self, train: Sequence[Record], tokenizer: Any = None) -> None:
        sentences = [self._checked(r, f"train record {i}") for i, r in enumerate(train)]
        if not self.tags:
            seen = {tag for _, tags in sentences for tag in tags}
            self.tags = sorted(seen, key=lambda t: (t != "O", t.partition("-")[2], t))
        if len(self.tags) < 2:
            raise DataError(f"tagging needs at least two tags in the training split, found {self.tags}")
        counts = Counter(self._word(w) for tokens, _ in sentences for w in tokens)
        self.words = sorted((w for w, n in counts.items() if n >= self.min_freq), key=lambda w: (-counts[w], w))
        self.rare = [i + FIRST_ID for i, w in enumerate(self.words) if counts[w] <= self.rare_freq]
        self.chars = sorted({c for tokens, _ in sentences for w in tokens for c in w})
        scheme = detect_scheme(self.tags) if self.scheme == "auto" else self.scheme
        allowed = allowed_transitions(self.tags, scheme, [tags for _, tags in sentences])
        self.constraints = [t.tolist() for t in (allowed[0], allowed[1].unsqueeze(0), allowed[2].unsqueeze(0))]
        self._index()

    def _index(self) -> None:
        self.word_ids = {w: i + FIRST_ID for i, w in enumerate(self.words)}
        self.char_ids = {c: i + FIRST_ID for i, c in enumerate(self.chars)}
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}

    def _word(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def _checked(self, record: Record, where: str) -> tuple[list[str], list[str]]:
        tokens, tags = record.get("tokens"), record.get("tags")
        ok = isinstance(tokens, list) and isinstance(tags, list) and len(tokens) == len(tags) and tokens
        if not ok or not all(isinstance(t, str) and t for t in [*tokens, *tags]):
            raise DataError(f"{where_of(record, where)}: expected equally long, non-empty 'tokens' and 'tags' lists")
        return tokens, tags

    # --- records → examples → batches -----------------------------------------------------------------------
    def texts(self, records: Sequence[Record]) -> list[str]:
        return [" ".join(record["tokens"]) for record in records]

    def _features(self, tokens: Sequence[str]) -> tuple[list[int], list[list[int]], list[int]]:
        words = [self.word_ids.get(self._word(t), UNK_ID) for t in tokens]
        chars = [[self.char_ids.get(c, UNK_ID) for c in t[: self.max_word_chars]] for t in tokens]
        return words, chars, [casing(t) for t in tokens]

    def encode(self, record: Record, tokenizer: Any = None, *, source: str = "", index: int = 0) -> Example:
        tokens, tags = self._checked(record, f"{source or 'data'} record {index}")
        unknown = sorted(set(tags) - set(self.tag_ids))
        if unknown:
            where = where_of(record, f"{source or 'data'} record {index}")
            raise DataError(f"{where}: unknown tags {unknown}; the task's tags are {self.tags}")
        return (*self._features(tokens), [self.tag_ids[t] for t in tags])

    def length(self, example: Example) -> int:
        return len(example[0])

    def collate(self, examples: list[Example]) -> dict[str, Tensor]:
        words, lengths = pad_sequences([e[0] for e in examples])
        casings, _ = pad_sequences([e[2] for e in examples])
        labels, _ = pad_sequences([e[3] for e in examples], pad_id=IGNORE)
        longest = max(len(c) for e in examples for c in e[1])
        chars = torch.zeros(*words.shape, longest, dtype=torch.long)  # (B, T, L)
        for b, example in enumerate(examples):
            for t, ids in enumerate(example[1]):
                chars[b, t, : len(ids)] = torch.tensor(ids)
        return {"words": words, "chars": chars, "casings": casings, "labels": labels, "lengths": lengths}

    def batch_weight(self, batch: dict[str, Tensor]) -> int:
        # the softmax loss is a mean over tokens, the CRF's over sentences
        return int(batch["lengths"].sum()) if self._output == "softmax" else int(batch["lengths"].shape[0])

    # --- the model -------------------------------------------------------------------------------------------
    def build_model(
        self,
        cell_factory: CellFactory,
        tokenizer: Any = None,
        *,
        output: Literal["crf", "softmax"] = "crf",
        embed_dim: Width = 100,
        casing_dim: Annotated[int, Range(0, 1 << 16)] = 8,  # 0: no casing feature; else a Width
        chars: dict[str, Any] | None = None,
        dropout: Probability = 0.5,
        unk_replace: Annotated[float, Range(0, 1)] = 0.5,  # 1: every rare word read as unknown, a usual setting
        word_dropout: Probability = 0.0,
    ) -> nn.Module:
        """``chars``: the character encoder (``{kind: gru, embed_dim: 25, hidden_size: 25}``, any cell, or
        ``{kind: cnn, width: 3}``); null: none. ``unk_replace``: the chance a rare training word is read as unknown."""
        self._output = output
        rare = torch.zeros(len(self.words) + FIRST_ID, dtype=torch.bool)
        rare[self.rare] = True
        constraints = None
        if self.constraints is not None:
            allowed, start, end = (torch.tensor(c, dtype=torch.bool) for c in self.constraints)
            constraints = (allowed, start[0], end[0])
        chars = dict(chars) if chars is not None else None
        if self.tbptt_steps is not None and chars is not None and chars.get("kind", "gru") != "cnn":
            chars.setdefault("tbptt_steps", self.tbptt_steps)  # a chars.tbptt_steps of its own stands
        return build_tagger(
            cell_factory,
            len(self.words) + FIRST_ID,
            len(self.chars) + FIRST_ID,
            rare,
            len(self.tags),
            constraints,
            output=output,
            dropout=dropout,
            embed_dim=embed_dim,
            casing_dim=casing_dim,
            chars=chars,
            unk_replace=unk_replace,
            word_dropout=word_dropout,
        )

    def forward_loss(self, model: Tagger, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        emissions = model(batch)  # (B, T, C)
        loss = model.loss(emissions, batch)
        # evaluation reads decoded tags (Viterbi for the CRF); training reads nothing
        return loss, (emissions.detach() if model.training else model.decode(emissions, batch["lengths"]))

    # --- metrics ---------------------------------------------------------------------------------------------
    # seqkit_tagging.metrics imports torchmetrics (1.4 s): loaded when metrics are first made, not with the task,
    # so that `seqkit validate` of a tagging recipe need not
    def metrics(self) -> dict[str, Any]:
        from torchmetrics.classification import MulticlassAccuracy

        from seqkit_tagging.metrics import EntityScore, entity_types

        found: dict[str, Any] = {
            "accuracy": MulticlassAccuracy(max(len(self.tags), 2), average="micro", ignore_index=IGNORE)
        }
        for score in ("f1", "precision", "recall"):
            found[f"entity_{score}"] = EntityScore(None, score)
            for kind in entity_types(self.tags):
                found[f"{score}_{kind}"] = EntityScore(kind, score)
        return found

    def update_metrics(self, metrics: dict[str, Any], outputs: Tensor, batch: dict[str, Tensor]) -> None:
        from seqkit_tagging.metrics import EntityScore, sentence_spans

        predicted = outputs if outputs.dtype == torch.long else outputs.argmax(-1)
        metrics["accuracy"].update(predicted, batch["labels"])
        lengths = batch["lengths"].tolist()
        ours = sentence_spans([row[:n] for row, n in zip(predicted.tolist(), lengths)], self.tags)
        gold = sentence_spans([row[:n] for row, n in zip(batch["labels"].tolist(), lengths)], self.tags)
        for metric in metrics.values():
            if isinstance(metric, EntityScore):
                metric.update(ours, gold)

    def format_metrics(self, metrics: dict[str, float]) -> list[str] | None:
        from seqkit_tagging.metrics import entity_types

        return score_table(metrics, entity_types(self.tags))

    # --- predictions -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, model: Tagger, texts: list[str], tokenizer: Any = None) -> list[dict[str, Any]]:
        model.eval()
        device = next(model.parameters()).device
        found = [[(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)] for text in texts]
        examples = [(*self._features([w for w, _, _ in words] or [" "]), [0] * max(len(words), 1)) for words in found]
        batch = {k: v.to(device) for k, v in self.collate(examples).items()}
        best = model.decode(model(batch), batch["lengths"]).tolist()
        results = []
        for text, words, row in zip(texts, found, best):
            tags = [self.tags[i] for i in row[: len(words)]]
            entities = [
                {
                    "type": kind,
                    "text": text[words[a][1] : words[b - 1][2]],
                    "start": words[a][1],
                    "end": words[b - 1][2],
                    "tokens": [a, b],
                }
                for kind, a, b in entity_spans(tags)
            ]
            results.append({"text": text, "tokens": [w for w, _, _ in words], "tags": tags, "entities": entities})
        return results

    def format_prediction(self, result: dict[str, Any]) -> list[str] | None:
        return prediction_lines(result)

    # --- export ----------------------------------------------------------------------------------------------
    def export_graphs(self, model: nn.Module) -> list[ExportGraph]:
        """The whole tagger (see :class:`seqkit_tagging.export.ExportedTagger`); ``task.json`` holds the
        vocabularies, ``lowercase`` and ``max_word_chars`` that turn tokens into its inputs."""
        from seqkit_tagging.export import tagger_graphs

        return tagger_graphs(model)

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in _STATE:  # only what state_dict saves: a checkpoint's other keys set nothing
            if key in state:
                setattr(self, key, state[key])
        # the two recipe options a checkpoint's state also carries: a tampered one is named, not a crash later
        if not isinstance(self.lowercase, bool):
            raise DataError(f"the checkpoint's tagging state: lowercase must be true or false, got {self.lowercase!r}")
        if isinstance(self.max_word_chars, bool) or not isinstance(self.max_word_chars, int) or self.max_word_chars < 1:
            raise DataError(
                f"the checkpoint's tagging state: max_word_chars must be an integer >= 1, got {self.max_word_chars!r}"
            )
        self._index()
