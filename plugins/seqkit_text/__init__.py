"""Generic text plumbing: tokenizers ``word``, ``char``, ``bpe`` and data sources ``table``, ``lines_per_label``."""

import seqkit
from seqkit import RegisterDataset, RegisterTokenizer


@seqkit.hookimpl
def register_tokenizers(register: RegisterTokenizer) -> None:
    register(
        seqkit.Spec(
            "word",
            build="seqkit_text.tokenizers:WordTokenizer",
            description="words and punctuation; lowercase, min_freq, max_size",
        )
    )
    register(
        seqkit.Spec(
            "char",
            build="seqkit_text.tokenizers:CharTokenizer",
            description="characters, for Chinese and other unsegmented text",
        )
    )
    register(
        seqkit.Spec(
            "bpe",
            build="seqkit_text.bpe:BPETokenizer",
            description="byte-pair encoding (Hugging Face tokenizers), trained offline",
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    register(
        seqkit.Spec("table", build="seqkit_text.sources:table", description="a TSV, CSV or JSONL file, plain or .gz")
    )
    register(
        seqkit.Spec(
            "lines_per_label",
            build="seqkit_text.sources:lines_per_label",
            description="one file per label, one example a line",
        )
    )
