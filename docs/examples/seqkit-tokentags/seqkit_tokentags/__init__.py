"""seqkit plugin: the ``token_tags`` task (one label per token), the ``tagged_tsv`` source (token<TAB>tag files)."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    from seqkit_tokentags.task import TaggingTask

    register(
        seqkit.Spec(
            "token_tags", build=TaggingTask, description="one tag per token (BIO entities, POS): accuracy, entity F1"
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_tokentags.data import tagged_tsv

    register(
        seqkit.Spec(
            "tagged_tsv", build=tagged_tsv, description="token<TAB>tag lines, sentences separated by blank lines"
        )
    )
