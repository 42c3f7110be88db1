"""The shared sequence-to-sequence stack (attention, encoder–decoder, greedy and beam search, copy mechanism)
and the offline ``synthetic_pairs`` data source; the translation and summarization tasks build on it."""

import seqkit
from seqkit import RegisterDataset


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    register(
        seqkit.Spec(
            "synthetic_pairs",
            build="seqkit_seq2seq.synthetic:synthetic_pairs",
            description="generated source → target pairs (copy or reverse a random sequence); offline",
        )
    )
