"""Tests of the built-in plugin seqkit_gru (plugins/seqkit_gru/)."""
