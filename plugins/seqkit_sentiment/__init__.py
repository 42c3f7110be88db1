"""Sentiment classification: the ``sentiment`` task; data sources ``sentence_polarity``, ``synthetic_sentiment``."""

import seqkit
from seqkit import RegisterDataset, RegisterTask


@seqkit.hookimpl
def register_tasks(register: RegisterTask) -> None:
    register(
        seqkit.Spec(
            "sentiment",
            build="seqkit_sentiment.task:SentimentTask",
            description="text → label: embedding, any cell, pooling, classifier",
            predict_options=(),  # as the task class's, so that `seqkit predict --help` imports no torch
        )
    )


@seqkit.hookimpl
def register_datasets(register: RegisterDataset) -> None:
    from seqkit_sentiment.polarity import CORPUS

    register(
        seqkit.Spec(
            "sentence_polarity",
            build="seqkit_sentiment.polarity:sentence_polarity",
            description="MR sentence polarity v1.0 (Pang & Lee 2005): 5,331 positive and 5,331 negative snippets",
            corpora=(CORPUS,),
        )
    )
    register(
        seqkit.Spec(
            "synthetic_sentiment",
            build="seqkit_sentiment.synthetic:synthetic_sentiment",
            description="generated reviews whose polarity depends on word order (negation, contrast); offline",
        )
    )
