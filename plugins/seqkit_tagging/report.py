"""What ``seqkit eval`` and ``seqkit predict`` print for tagging: the per-type table, tokens with their tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def score_table(metrics: dict[str, float], types: Sequence[str]) -> list[str] | None:
    """conlleval's table: precision, recall and F1 (in %) per entity type and overall, then token accuracy.

    *metrics* are ``seqkit eval``'s (``test/entity_f1``, ``test/f1_PER``, ...); None when they hold no entity scores.
    """
    prefix = next((k.rpartition("/")[0] + "/" for k in metrics if k.endswith("/entity_f1")), None)
    if prefix is None:
        return None
    rows = [("type", "precision", "recall", "F1")]
    for kind in types:
        names = (f"precision_{kind}", f"recall_{kind}", f"f1_{kind}")
        if all(prefix + n in metrics for n in names):
            rows.append((kind, *(f"{100 * metrics[prefix + n]:.2f}" for n in names)))
    overall = (f"{100 * metrics[prefix + 'entity_' + n]:.2f}" for n in ("precision", "recall", "f1"))
    rows.append(("overall", *overall))
    width = max(len(r[0]) for r in rows)
    lines = [f"{name.ljust(width)}  {p:>9}  {r:>9}  {f:>9}" for name, p, r, f in rows]
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    for name in ("accuracy", "loss"):
        if prefix + name in metrics:
            label = "token accuracy" if name == "accuracy" else name
            value = 100 * metrics[prefix + name] if name == "accuracy" else metrics[prefix + name]
            lines.append(f"{label}: {value:.2f}{' %' if name == 'accuracy' else ''}")
    return lines


def prediction_lines(result: dict[str, Any]) -> list[str]:
    """``token/TAG token/TAG ...``, then one indented line per entity: its type, text and character span."""
    lines = [" ".join(f"{w}/{t}" for w, t in zip(result["tokens"], result["tags"]))]
    for entity in result["entities"]:
        lines.append(f"  {entity['type']}  {entity['text']!r}  {entity['start']}-{entity['end']}")
    return lines
