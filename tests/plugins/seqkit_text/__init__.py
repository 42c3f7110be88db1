"""Tests of the built-in plugin seqkit_text (plugins/seqkit_text/): its tokenizers, beside the length bucketing and
the sentiment model's pooling they feed."""
