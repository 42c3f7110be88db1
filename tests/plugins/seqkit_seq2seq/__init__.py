"""Tests of the built-in plugin seqkit_seq2seq (plugins/seqkit_seq2seq/)."""
