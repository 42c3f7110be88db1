"""``early_stopping``: Lightning's EarlyStopping, following the task's metric unless told otherwise."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from seqkit import Range

# Lightning's EarlyStopping checks neither: a negative patience stops at the first validation without a gain, and a
# NaN min_delta makes every validation one without a gain. Declared here, a recipe's bad value is refused up front.
Patience = Annotated[int, Range(0)]
MinDelta = Annotated[float, Range(0)]


def early_stopping(
    *,
    monitor: str | None = None,
    mode: Literal["min", "max"] | None = None,
    patience: Patience = 3,
    min_delta: MinDelta = 0.0,
) -> Any:
    """Stop after *patience* validations without an improvement of at least *min_delta*.

    seqkit fills ``monitor`` and ``mode`` with the run's monitored metric (the task's, or the recipe's
    ``monitor``) when the recipe leaves them out.
    """
    if monitor is None or mode is None:
        raise ValueError("early_stopping needs monitor and mode (seqkit fills them in from the run)")
    from seqkit_callbacks.watching import EarlyStopping

    return EarlyStopping(monitor=monitor, mode=mode, patience=patience, min_delta=min_delta)
