"""Runs (seqkit/run/): train, eval and predict end to end, resume after a crash, distributed, run output, threads."""
