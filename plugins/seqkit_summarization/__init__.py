"""Summarization: the ``summarization`` task (pointer-generator, coverage); data source ``scitldr``."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    from seqkit_summarization.task import SummarizationTask

    register(
        seqkit.Spec(
            "summarization",
            build=SummarizationTask,
            description="document → summary: encoder–decoder with copy mechanism and coverage, ROUGE",
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_summarization.sources import CORPUS, scitldr

    description = "SciTLDR-A: paper abstract → one-sentence TLDR"
    register(seqkit.Spec("scitldr", build=scitldr, description=description, corpora=(CORPUS,)))
