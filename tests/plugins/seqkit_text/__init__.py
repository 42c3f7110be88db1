"""Tests of the built-in plugin seqkit_text (plugins/seqkit_text/)."""
