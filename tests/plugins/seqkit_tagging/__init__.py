"""Tests of the built-in plugin seqkit_tagging (plugins/seqkit_tagging/)."""
