"""The conformance kit seqkit.testing (seqkit/testing/): on every registered entry, and on broken ones it must catch."""
