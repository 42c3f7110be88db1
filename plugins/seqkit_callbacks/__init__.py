"""Lightning callbacks a recipe may name under ``callbacks``: ``early_stopping``."""

import seqkit
from seqkit import RegisterCallback


@seqkit.hookimpl
def register_callbacks(register: RegisterCallback) -> None:
    from seqkit_callbacks.early_stopping import early_stopping

    register(seqkit.Spec("early_stopping", build=early_stopping, description="stop when the monitored metric stalls"))
