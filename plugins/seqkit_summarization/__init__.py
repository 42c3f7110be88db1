"""Summarization: the ``summarization`` task (pointer-generator, coverage); data source ``scitldr``."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    register(
        seqkit.Spec(
            "summarization",
            build="seqkit_summarization.task:SummarizationTask",
            description="document → summary: encoder–decoder with copy mechanism and coverage, ROUGE",
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_summarization.sources import CORPUS

    description = "SciTLDR-A: paper abstract → one-sentence TLDR"
    register(
        seqkit.Spec("scitldr", build="seqkit_summarization.sources:scitldr", description=description, corpora=(CORPUS,))
    )
