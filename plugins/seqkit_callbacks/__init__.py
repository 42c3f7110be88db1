"""Lightning callbacks a recipe may name under ``callbacks``: ``early_stopping``, ``ema``."""

import seqkit
from seqkit import RegisterCallback


@seqkit.hookimpl
def register_callbacks(register: RegisterCallback) -> None:
    register(
        seqkit.Spec(
            "early_stopping",
            build="seqkit_callbacks.early_stopping:early_stopping",
            description="stop when the monitored metric stalls",
        )
    )
    register(
        seqkit.Spec(
            "ema",
            build="seqkit_callbacks.ema:ema",
            description="validate, checkpoint and test an exponential moving average of the weights",
        )
    )
