"""Tests of the built-in plugin seqkit_layernorm (plugins/seqkit_layernorm/)."""
