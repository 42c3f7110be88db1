"""What ``seqkit predict`` offers for the generation tasks: their flags and how a result prints without ``--json``."""

from __future__ import annotations

from typing import Any

from seqkit import PredictOption

PREDICT_OPTIONS = (
    PredictOption("beam_size", "beam width (1: greedy); default: the recipe's task.beam_size", int, "K", minimum=1),
    PredictOption("n_best", "return the N best outputs (N <= K)", int, "N", minimum=1),
    PredictOption(
        "attention_plot",
        "draw the source–target attention (OUT.png, then OUT-2.png ... for further texts; the plot extra)",
        str,
        "OUT.png",
        per_request=False,  # it writes files: a command-line choice, never a request's
        first_call_only=True,  # numbered within one predict call: later chunks would overwrite the first ones
    ),
)


def prediction_lines(result: dict[str, Any]) -> list[str | tuple[str, ...]]:
    """The output, its score and the input text, tab-separated; each further n-best output indented below."""
    shown = [str(v) for k, v in result.items() if k not in ("text", "n_best")]
    return [
        (*shown, result.get("text", "")),
        *((f"  {other['output']}", str(other["score"])) for other in result.get("n_best", [])[1:]),
    ]
