"""The encoder–decoder as two exportable graphs: the encoder, and one decoder step with attention."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqkit import EOS_ID, UNK_ID, ExportError, ExportGraph
from seqkit_seq2seq.model import Memory, Seq2SeqModel


class EncoderGraph(nn.Module):
    """``source (B, S)``, ``lengths (B,)`` -> memory, keys, mask, the decoder's first state, feed and coverage."""

    def __init__(self, model: Seq2SeqModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        memory, (parts, feed, coverage) = self.model.encode(source, lengths)
        return (memory.outputs, memory.keys, memory.mask, *parts, feed, coverage)


class DecoderStepGraph(nn.Module):
    """One step: ``previous (N,)``, the state, feed, coverage and the memory -> log-probabilities and what follows."""

    def __init__(self, model: Seq2SeqModel) -> None:
        super().__init__()
        self.model = model
        self.parts = len(model.decoder.cell.state_names)

    def forward(self, previous: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        parts, (feed, coverage, outputs, keys, mask) = rest[: self.parts], rest[self.parts :]
        memory = Memory(outputs, keys, mask, None, 0)
        log_probs, weights, (new_parts, new_feed, new_coverage), _ = self.model.step(
            previous, (tuple(parts), feed, coverage), memory
        )
        return (log_probs, weights, *new_parts, new_feed, new_coverage)


def export_graphs(model: Seq2SeqModel, kind: str) -> list[ExportGraph]:
    """``encoder`` and ``decoder_step``; their inputs and outputs are named as the manifest and docs show them."""
    if model.copy:
        raise ExportError(
            f"task '{kind}' with copy: true cannot be exported: the pointer-generator's output vocabulary grows "
            "with each input's unknown words; train with copy: false to export"
        )
    states = [f"state_{name}" for name in model.decoder.cell.state_names]
    source = torch.tensor([[UNK_ID, UNK_ID, EOS_ID], [UNK_ID, EOS_ID, 0]])
    encoder = EncoderGraph(model)
    with torch.no_grad():
        memory, keys, mask, *first = encoder(source, torch.tensor([3, 2]))
    *parts, feed, coverage = first
    batch, source_axis = {0: "batch"}, {0: "batch", 1: "source"}
    enc = ExportGraph(
        "encoder",
        encoder,
        {"source": source, "lengths": torch.tensor([3, 2])},
        ["memory", "keys", "mask", *states, "feed", "coverage"],
        {
            "source": source_axis,
            "lengths": batch,
            "memory": source_axis,
            "keys": source_axis,
            "mask": source_axis,
            **{s: {1: "batch"} for s in states},
            "feed": batch,
            "coverage": source_axis,
        },
        "source ids (each ending in <eos>) and lengths -> the decoder's memory and first state",
    )
    inputs = {
        "previous": torch.tensor([UNK_ID, UNK_ID]),
        **dict(zip(states, parts)),
        "feed": feed,
        "coverage": coverage,
        "memory": memory,
        "keys": keys,
        "mask": mask,
    }
    step = ExportGraph(
        "decoder_step",
        DecoderStepGraph(model),
        inputs,
        ["log_probs", "attention", *(f"next_{s}" for s in states), "next_feed", "next_coverage"],
        {
            "previous": batch,
            **{s: {1: "batch"} for s in states},
            "feed": batch,
            "coverage": source_axis,
            "memory": source_axis,
            "keys": source_axis,
            "mask": source_axis,
            "log_probs": batch,
            "attention": source_axis,
            **{f"next_{s}": {1: "batch"} for s in states},
            "next_feed": batch,
            "next_coverage": source_axis,
        },
        "the previous token and state -> log-probabilities over the target vocabulary, and the next state",
    )
    return [enc, step]
