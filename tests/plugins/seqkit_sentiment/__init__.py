"""Tests of the built-in plugin seqkit_sentiment (plugins/seqkit_sentiment/)."""
