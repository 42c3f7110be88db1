"""Records → examples → batches for sequence-to-sequence tasks, with the copy mechanism's extended vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqkit.batching import pad_sequences
from seqkit.tokenize import BOS_ID, EOS_ID, UNK_ID, Tokenizer


@dataclass
class Example:
    source: list[int]  # source ids, ending in <eos>
    target: list[int]  # target ids, without <bos>/<eos>
    references: list[str]  # the texts outputs are scored against (detokenized, as in the data)
    source_ext: list[int] | None = None  # source ids with out-of-vocabulary pieces as V + k (copy)
    target_ext: list[int] | None = None  # target ids, out-of-vocabulary pieces found in the source as V + k
    oovs: list[str] | None = None  # the pieces behind V + k, k = 0, 1, …


def source_ids(text: str, tokenizer: Tokenizer, max_length: int | None) -> list[int]:
    return [*tokenizer.encode(text)[:max_length], EOS_ID]


def extend(
    source: str, target: str | None, tokenizer: Tokenizer, max_source: int | None, max_target: int | None
) -> tuple[list[int], list[int], list[str]]:
    """Pointer-generator ids: source pieces outside the vocabulary get temporary ids ``V + k``; the
    target's pieces use them where the source has them (so the model can learn to copy them)."""
    vocab = tokenizer.vocab_size
    oovs: list[str] = []
    ext = []
    for piece in tokenizer.split(source)[:max_source]:
        i = tokenizer.stoi.get(piece)
        if i is None or i == UNK_ID:
            if piece not in oovs:
                oovs.append(piece)
            i = vocab + oovs.index(piece)
        ext.append(i)
    ext.append(EOS_ID)
    target_ext = []
    if target is not None:
        for piece in tokenizer.split(target)[:max_target]:
            i = tokenizer.stoi.get(piece, UNK_ID)
            if i == UNK_ID and piece in oovs:
                i = vocab + oovs.index(piece)
            target_ext.append(i)
    return ext, target_ext, oovs


def collate(examples: list[Example]) -> dict[str, object]:
    """Padded ``source (B, S)``, ``lengths (B,)``, ``target_in``/``target_out (B, T)`` (``<bos>`` y / y ``<eos>``),
    copy ids when present; ``references`` and ``oovs`` ride along as lists of strings."""
    source, lengths = pad_sequences([e.source for e in examples])
    copy = examples[0].source_ext is not None
    targets = [e.target_ext if copy else e.target for e in examples]
    target_in, _ = pad_sequences([[BOS_ID, *t] for t in targets])
    target_out, target_lengths = pad_sequences([[*t, EOS_ID] for t in targets])
    batch: dict[str, object] = {
        "source": source,
        "lengths": lengths,
        "target_in": target_in,
        "target_out": target_out,
        "target_lengths": target_lengths,
        "references": [e.references for e in examples],
    }
    if copy:
        batch["source_ext"], _ = pad_sequences([e.source_ext for e in examples])
        batch["n_ext"] = torch.tensor(max(len(e.oovs) for e in examples))
        batch["oovs"] = [e.oovs for e in examples]
    return batch


def pieces_text(ids: list[int], tokenizer: Tokenizer, oovs: list[str] | None) -> str:
    """Output ids → text; ids ≥ the vocabulary size are the source pieces they copied."""
    vocab = tokenizer.vocab_size
    if not oovs or all(i < vocab for i in ids):
        return tokenizer.decode(ids)
    pieces = [oovs[i - vocab] if i >= vocab else tokenizer.itos[i] for i in ids if i > EOS_ID or i == UNK_ID]
    return tokenizer.join(pieces)


def as_tensor_batch(batch: dict[str, object]) -> dict[str, Tensor]:
    return {k: v for k, v in batch.items() if isinstance(v, Tensor)}
