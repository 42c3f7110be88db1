"""Tagging schemes: entity spans by the conlleval rules, and the tag transitions IOB/IOB2/IOBES allow."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import torch

Span = tuple[str, int, int]  # (type, start, end): tokens start..end-1


def split_tag(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` for ``B-PER``; ``("O", "")`` for ``O``; a tag without a prefix is its own type (``"NN"``)."""
    prefix, sep, kind = tag.partition("-")
    if sep and prefix in ("B", "I", "E", "S"):
        return prefix, kind
    return ("O", "") if tag == "O" else ("", tag)


def _ends(prev: str, prev_kind: str, tag: str, kind: str) -> bool:
    """Whether the chunk open before this token ends before it (conlleval's endOfChunk)."""
    if prev in ("E", "S"):
        return True
    if prev == "B" and tag in ("B", "S", "O"):
        return True
    if prev == "I" and tag in ("B", "S", "O"):
        return True
    return prev not in ("O", "") and prev_kind != kind


def _starts(prev: str, prev_kind: str, tag: str, kind: str) -> bool:
    """Whether a chunk starts at this token (conlleval's startOfChunk)."""
    if tag in ("B", "S"):
        return True
    if prev in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", "") and prev_kind != kind


def entity_spans(tags: Sequence[str]) -> list[Span]:
    """The entities of one sentence's tags, as conlleval (and seqeval's default mode) read them.

    ``I-X`` after ``O`` or after another type starts an entity (an ill-formed sequence is read, not refused);
    ``E-X`` and ``S-X`` close one. Tags without a ``B-``/``I-``/``E-``/``S-`` prefix and ``O`` are outside.
    """
    found: list[Span] = []
    prev, prev_kind, start = "O", "", 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, kind = split_tag(tag)
        if prefix == "":  # a plain tag (part of speech, ...) is outside any entity
            prefix, kind = "O", ""
        if prev != "O" and _ends(prev, prev_kind, prefix, kind):
            found.append((prev_kind, start, i))
        if prefix != "O" and _starts(prev, prev_kind, prefix, kind):
            start = i
        prev, prev_kind = prefix, kind
    return found


def detect_scheme(tags: Iterable[str]) -> str:
    """``iobes`` when any tag has an ``E-``/``S-`` prefix, ``iob`` when any has ``B-``/``I-``, else ``none``."""
    prefixes = {split_tag(t)[0] for t in tags}
    if prefixes & {"E", "S"}:
        return "iobes"
    return "iob" if prefixes & {"B", "I"} else "none"


def _rule(scheme: str, a: str, b: str) -> bool:
    """Whether tag *b* may follow tag *a* under *scheme* (``"<s>"``/``"</s>"``: the sentence's start/end)."""
    pa, ka = split_tag(a) if a != "<s>" else ("O", "")
    pb, kb = split_tag(b) if b != "</s>" else ("O", "")
    if scheme == "iob":
        return pb != "I" or (pa in ("B", "I") and ka == kb)
    if scheme == "iobes":
        inside = pa in ("B", "I")  # an entity is open and must go on
        if pb in ("I", "E"):
            return inside and ka == kb
        return not inside
    return True


def allowed_transitions(
    tags: Sequence[str], scheme: str, observed: Iterable[Sequence[str]] = ()
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(allowed (C, C), start (C,), end (C,))`` bool masks: the scheme's rules, plus every transition *observed*.

    ``allowed[i, j]``: tag j may follow tag i; ``start``/``end``: a sentence may begin/end with the tag.
    Transitions seen in the training sentences (*observed*) are always allowed, so data that breaks the
    scheme (IOB1's ``O I-X``) is not made undecodable. ``scheme="none"`` allows everything.
    """
    n = len(tags)
    index = {t: i for i, t in enumerate(tags)}
    allowed = torch.tensor([[_rule(scheme, a, b) for b in tags] for a in tags], dtype=torch.bool).reshape(n, n)
    start = torch.tensor([_rule(scheme, "<s>", t) for t in tags], dtype=torch.bool)
    end = torch.tensor([_rule(scheme, t, "</s>") for t in tags], dtype=torch.bool)
    for sentence in observed:
        ids = [index[t] for t in sentence if t in index]
        if len(ids) != len(sentence) or not ids:
            continue
        start[ids[0]] = True
        end[ids[-1]] = True
        for a, b in itertools.pairwise(ids):
            allowed[a, b] = True
    return allowed, start, end
