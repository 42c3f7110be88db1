"""``seqkit bench`` (seqkit/bench/) and the scripts under benchmarks/ that turn its rows into tables and rules."""
