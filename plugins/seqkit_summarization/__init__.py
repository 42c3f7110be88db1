"""Summarization: the ``summarization`` task (pointer-generator, coverage); data source ``scitldr``."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    from seqkit_seq2seq.predict_options import PREDICT_OPTIONS  # light: no torch

    register(
        seqkit.Spec(
            "summarization",
            build="seqkit_summarization.task:SummarizationTask",
            description="document → summary: encoder–decoder with copy mechanism and coverage, ROUGE",
            predict_options=PREDICT_OPTIONS,  # as the task class's, so that `seqkit predict --help` imports no torch
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_summarization.sources import CORPUS

    description = "SciTLDR-A: paper abstract → one-sentence TLDR"
    register(
        seqkit.Spec("scitldr", build="seqkit_summarization.sources:scitldr", description=description, corpora=(CORPUS,))
    )
