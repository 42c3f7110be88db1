"""Tests of the built-in plugin seqkit_translation (plugins/seqkit_translation/) and the pair data sources it
shares with seqkit_summarization (the seq2seq model and decoding: tests/plugins/seqkit_seq2seq/)."""
