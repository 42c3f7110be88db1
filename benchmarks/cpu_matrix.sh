#!/usr/bin/env bash
# The CPU benchmark matrix behind docs/benchmarks.md: one JSON object per line on stdout.
#   bash benchmarks/cpu_matrix.sh > results.jsonl && python benchmarks/table.py results.jsonl
set -euo pipefail
common=(--repeat "${REPEAT:-30}" --warmup 3 --json)
seqkit bench gru "${common[@]}"
seqkit bench gru --lengths varied "${common[@]}"
seqkit bench gru --option reset_after=false --backends reference "${common[@]}"
seqkit bench lstm "${common[@]}"
seqkit bench lstm --lengths varied "${common[@]}"
seqkit bench rnn "${common[@]}"
seqkit bench gru --layers 2 --bidirectional "${common[@]}"
seqkit bench gru --layers 2 --bidirectional --lengths varied "${common[@]}"
seqkit bench gru --forward-only "${common[@]}"
