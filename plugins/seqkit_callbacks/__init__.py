"""Lightning callbacks a recipe may name under ``callbacks``: ``early_stopping``."""

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
