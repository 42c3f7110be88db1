"""The ``seqkit`` command line (seqkit/cli/): commands, JSON output, one-line errors, what it imports, predict's
flags."""
