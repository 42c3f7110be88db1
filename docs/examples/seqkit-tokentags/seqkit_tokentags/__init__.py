"""seqkit plugin: the ``tagging`` task (one label per token) and the ``conll`` data source (token<TAB>tag files)."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    from seqkit_tagging.task import TaggingTask

    register(
        seqkit.Spec(
            "tagging", build=TaggingTask, description="one tag per token (BIO entities, POS): accuracy, entity F1"
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_tagging.data import conll

    register(seqkit.Spec("conll", build=conll, description="token<TAB>tag lines, sentences separated by blank lines"))
