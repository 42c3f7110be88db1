"""Tests of the built-in plugin seqkit_triton (plugins/seqkit_triton/)."""
