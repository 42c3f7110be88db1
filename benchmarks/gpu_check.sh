#!/usr/bin/env bash
# The GPU checks in one device call (about 9 minutes; see docs/benchmarks.md): the whole `pytest -m gpu`, a
# diagnosis, then the GRU matrix of issue 22 in tiers, most important first: bf16 at the target shapes, the
# reset-before GRU, float32, then the other lengths, B=256 and the per-step kernel. Every matrix row is appended to
# $OUT/rows.jsonl the moment it is measured, so a run cut off still returns what it measured; each tier also has a
# deadline.
# Afterwards, here: python benchmarks/gpu_report.py OUT/rows.jsonl --plot speed.png; then copy OUT/rows.jsonl to
# benchmarks/gpu-<gpu>-<date>.jsonl and regenerate auto's rule table with the command in the header of
# plugins/seqkit_triton/measured.py (a test checks the table is what that command makes).
# Needs omegaconf, which the device image lacks: build wheels first with
#   pip wheel --no-deps -w .whl . omegaconf antlr4-python3-runtime==4.9.3
# Compiling the Triton kernels is most of the time on a fresh machine (2026-12-04: ~30 s a shape, 5 Triton tests in
# 140 s), so the compiled kernels come back as $OUT/triton-cache.tgz: keep it in .gpu-cache/ (ignored) and carry
# .gpu-cache next time, and this script starts from it.
source benchmarks/gpu_setup.sh
{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, 'cudnn', torch.backends.cudnn.version())"
} | tee "$OUT/env.txt"
# The many quick cuDNN parity tests first, then the Triton ones, each compiling kernels; -v names what ran.
gpu_tests() {
    timeout "$1" python3 -m pytest -m gpu -v -p no:cacheprovider -rf --tb=line --continue-on-collection-errors \
        "${@:2}" >>"$OUT/gpu-tests.log" 2>&1
}
: >"$OUT/gpu-tests.log"
gpu_tests "${TEST_S:-50}" tests --ignore=tests/plugins/seqkit_triton
gpu_tests "${TRITON_TEST_S:-90}" tests/plugins/seqkit_triton
grep -c PASSED "$OUT/gpu-tests.log"
grep -E "FAILED|ERROR|passed|failed|skipped" "$OUT/gpu-tests.log" | tail -30
timeout "${DIAGNOSE_S:-40}" python3 benchmarks/gpu_diagnose.py 2>&1 | grep -v Warning | tee "$OUT/diagnose.log"

# One tier: a time limit in seconds, then the bench arguments. Rows go to $OUT/rows.jsonl as they are measured.
tier() {
    local seconds=$1
    shift
    timeout $((seconds + 30)) python3 -m seqkit bench gru --matrix --device cuda --repeat "${REPEAT:-5}" --warmup 2 \
        --deadline "$seconds" --rows "$OUT/rows.jsonl" "$@" 2>&1 | grep -v Warning | tail -4
}
# triton_step (never auto's choice; 0.4-0.8x cuDNN's speed on 2026-12-04) only in its own tier: every kernel a shape
# runs is compiled for it, so leaving it out elsewhere times about twice the shapes in the same minutes
GRU=(--backends cudnn,triton)
BEFORE=(--backends triton --option reset_after=false)
tier 70 --dtype bf16 --matrix-steps 256 --matrix-batch 1,4,16,64 --matrix-hidden 256,512,1024 "${GRU[@]}"
tier 25 --dtype bf16 --matrix-steps 256 --matrix-batch 1,16,64 --matrix-hidden 256,512,1024 "${BEFORE[@]}"
tier 30 --dtype fp32 --matrix-steps 256 --matrix-batch 1,4,16,64,256 --matrix-hidden 256,512,1024 "${GRU[@]}"
tier 30 --dtype bf16 --matrix-steps 64,1024 --matrix-batch 1,16,64,256 --matrix-hidden 256,512,1024 "${GRU[@]}"
tier 20 --dtype bf16 --matrix-steps 256 --matrix-batch 256 --matrix-hidden 256,512,1024 "${GRU[@]}"
tier 20 --dtype bf16 --matrix-steps 256 --matrix-batch 1,64 --matrix-hidden 512,1024 --backends cudnn,triton_step
tier 15 --dtype fp32 --matrix-steps 64,1024 --matrix-batch 1,16,64 --matrix-hidden 256,512,1024 "${GRU[@]}"
python3 benchmarks/gpu_report.py "$OUT/rows.jsonl" >"$OUT/tables.md"
report=$?
head -60 "$OUT/tables.md"
tar -czf "$OUT/triton-cache.tgz" -C "$TRITON_CACHE_DIR" . && [ "$(stat -c %s "$OUT/triton-cache.tgz")" -le 16000000 ] ||
    rm -f "$OUT/triton-cache.tgz"  # larger files do not come back
exit "$report"  # the tables were made: what the run measured came back
