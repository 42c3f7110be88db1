"""``ema``: an exponential moving average of the weights, validated, checkpointed and tested in their place.

This module only declares the callback's options, so that a recipe's ``callbacks.ema`` is checked (``seqkit
validate``) without importing Lightning; :mod:`seqkit_callbacks.weight_average` holds the callback itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from seqkit import Range

# what WeightAverage checks itself, declared for a recipe: refused with the key before the run starts
Decay = Annotated[float, Range(0, 1, low_open=True, high_open=True)]
Steps = Annotated[int, Range(0)]


def ema(*, decay: Decay = 0.999, start_step: Steps = 0) -> Any:
    """An exponential moving average of the weights (``decay`` per optimiser step, from ``start_step``): a
    :class:`seqkit_callbacks.weight_average.WeightAverage`."""
    from seqkit_callbacks.weight_average import WeightAverage

    return WeightAverage(decay=decay, start_step=start_step)


def __getattr__(name: str) -> Any:
    if name == "WeightAverage":  # where it was defined before: imported on first use
        from seqkit_callbacks.weight_average import WeightAverage

        return WeightAverage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
