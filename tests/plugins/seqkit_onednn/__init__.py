"""Tests of the built-in plugin seqkit_onednn (plugins/seqkit_onednn/)."""
