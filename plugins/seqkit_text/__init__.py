"""Generic text plumbing: tokenizers ``word``, ``char``, ``bpe`` and data sources ``table``, ``lines_per_label``."""

import seqkit
from seqkit import RegisterDataset, RegisterTokenizer


@seqkit.hookimpl
def register_tokenizers(register: RegisterTokenizer) -> None:
    from seqkit_text.bpe import BPETokenizer
    from seqkit_text.tokenizers import CharTokenizer, WordTokenizer

    register(
        seqkit.Spec("word", build=WordTokenizer, description="words and punctuation; lowercase, min_freq, max_size")
    )
    register(seqkit.Spec("char", build=CharTokenizer, description="characters, for Chinese and other unsegmented text"))
    register(
        seqkit.Spec(
            "bpe", build=BPETokenizer, description="byte-pair encoding (Hugging Face tokenizers), trained offline"
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_text.sources import lines_per_label, table

    register(seqkit.Spec("table", build=table, description="a TSV, CSV or JSONL file, plain or .gz"))
    register(
        seqkit.Spec("lines_per_label", build=lines_per_label, description="one file per label, one example a line")
    )
