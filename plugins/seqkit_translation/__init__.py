"""Machine translation: the ``translation`` task; data sources ``tatoeba`` and ``multi30k``."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    from seqkit_translation.task import TranslationTask

    register(
        seqkit.Spec(
            "translation",
            build=TranslationTask,
            description="source → target text: attentional encoder–decoder, beam search, BLEU and chrF",
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_translation.sources import MULTI30K, TATOEBA, multi30k, tatoeba

    register(
        seqkit.Spec(
            "tatoeba",
            build=tatoeba,
            description="Tatoeba English–German sentence pairs (ManyThings export)",
            corpora=(TATOEBA,),
        )
    )
    register(
        seqkit.Spec(
            "multi30k",
            build=multi30k,
            description="Multi30k task 1 English–German captions, official splits",
            corpora=(MULTI30K,),
        )
    )
