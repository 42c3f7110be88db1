"""Tests of the built-in plugin seqkit_callbacks (plugins/seqkit_callbacks/)."""
