"""Lightning callbacks a recipe may name under ``callbacks``: ``early_stopping``."""

import seqkit


@seqkit.hookimpl
def register_callbacks(register):
    from seqkit_callbacks.early_stopping import early_stopping

    register(seqkit.Spec("early_stopping", build=early_stopping, description="stop when the monitored metric stalls"))
