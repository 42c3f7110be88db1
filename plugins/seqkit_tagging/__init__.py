"""Sequence labelling: the ``tagging`` task (BiRNN + CRF, character features) and the ``conll`` data source."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    register(
        seqkit.Spec(
            "tagging",
            build="seqkit_tagging.task:TaggingTask",
            description="one tag per token (NER, POS, chunks): words, casing, characters, any cell, softmax or CRF",
            predict_options=(),  # as the task class's, so that `seqkit predict --help` imports no torch
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_tagging.conll import CORPUS

    register(
        seqkit.Spec(
            "conll",
            build="seqkit_tagging.conll:conll",
            description="CoNLL-style column files (token ... tag a line, blank lines between sentences), plain or gz",
            corpora=(CORPUS,),
        )
    )
    register(
        seqkit.Spec(
            "synthetic_tagging",
            build="seqkit_tagging.synthetic:synthetic_tagging",
            description="generated sentences: new capitalised names typed by the word before them; offline",
        )
    )
