"""Tests of the built-in plugin seqkit_native (plugins/seqkit_native/)."""
