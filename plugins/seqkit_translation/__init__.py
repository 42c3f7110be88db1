"""Machine translation: the ``translation`` task; data sources ``tatoeba`` and ``multi30k``."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    from seqkit_seq2seq.predict_options import PREDICT_OPTIONS  # light: no torch

    register(
        seqkit.Spec(
            "translation",
            build="seqkit_translation.task:TranslationTask",
            description="source → target text: attentional encoder–decoder, beam search, BLEU and chrF",
            predict_options=PREDICT_OPTIONS,  # as the task class's, so that `seqkit predict --help` imports no torch
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_translation.sources import MULTI30K, TATOEBA

    register(
        seqkit.Spec(
            "tatoeba",
            build="seqkit_translation.sources:tatoeba",
            description="Tatoeba English–German sentence pairs (ManyThings export)",
            corpora=(TATOEBA,),
        )
    )
    register(
        seqkit.Spec(
            "multi30k",
            build="seqkit_translation.sources:multi30k",
            description="Multi30k task 1 English–German captions, official splits",
            corpora=(MULTI30K,),
        )
    )
