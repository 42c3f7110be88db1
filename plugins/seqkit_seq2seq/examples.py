"""Records → examples → batches for sequence-to-sequence tasks, with the copy mechanism's extended vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqkit import BOS_ID, EOS_ID, UNK_ID, Tokenizer, pad_sequences


@dataclass
class Example:
    source: list[int]  # source ids, ending in <eos>
    target: list[int]  # target ids, without <bos>/<eos>
    id: int  # the task's key for what a batch cannot hold as a tensor: references, copied words
    source_ext: list[int] | None = None  # source ids with out-of-vocabulary pieces as V + k (copy)
    target_ext: list[int] | None = None  # target ids, out-of-vocabulary pieces found in the source as V + k
    n_oovs: int = 0  # how many pieces the temporary ids V + k stand for


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


def collate(examples: list[Example]) -> dict[str, Tensor]:
    """Padded ``source (B, S)``, ``lengths (B,)``, ``target_in``/``target_out (B, T)`` (``<bos>`` y / y ``<eos>``),
    ``example_id (B,)`` and, with copying, ``source_ext (B, S)`` and ``n_ext`` (a scalar)."""
    source, lengths = pad_sequences([e.source for e in examples])
    copy = examples[0].source_ext is not None
    targets = [e.target_ext if copy else e.target for e in examples]
    target_in, _ = pad_sequences([[BOS_ID, *t] for t in targets])
    target_out, target_lengths = pad_sequences([[*t, EOS_ID] for t in targets])
    batch: dict[str, Tensor] = {
        "source": source,
        "lengths": lengths,
        "target_in": target_in,
        "target_out": target_out,
        "target_lengths": target_lengths,
        "example_id": torch.tensor([e.id for e in examples]),
    }
    if copy:
        batch["source_ext"], _ = pad_sequences([e.source_ext for e in examples])
        batch["n_ext"] = torch.tensor(max(e.n_oovs for e in examples))
    return batch


def pieces_text(ids: list[int], tokenizer: Tokenizer, oovs: list[str] | None) -> str:
    """Output ids → text; ids ≥ the vocabulary size are the source pieces they copied."""
    vocab = tokenizer.vocab_size
    if not oovs or all(i < vocab for i in ids):
        return tokenizer.decode(ids)
    pieces = [oovs[i - vocab] if i >= vocab else tokenizer.itos[i] for i in ids if i > EOS_ID or i == UNK_ID]
    return tokenizer.join(pieces)
