#!/usr/bin/env bash
# The GPU checks in one go, as run on a lent H200 (see docs/benchmarks.md): the `gpu` tests, then the bf16
# matrix of every GRU kernel at T=256. Results go to $OUT (default: ./gpu-results). Needs omegaconf, which
# the device image lacks: build wheels first with
#   pip wheel --no-deps -w .whl . omegaconf antlr4-python3-runtime==4.9.3
set -o pipefail
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
    export PYTHONPATH=$PWD/plugins:/tmp/site  # the wheel's entry points, this tree's plugin code
fi
export PYTHONUNBUFFERED=1 SEQKIT_DISABLE_PLUGINS=onednn
{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, 'cudnn', torch.backends.cudnn.version())"
} | tee "$OUT/env.txt"
timeout "${TEST_S:-150}" python3 -m pytest -m gpu -q -p no:cacheprovider -rf --tb=line --continue-on-collection-errors \
    ${TESTS:-tests} >"$OUT/gpu-tests.log" 2>&1
tail -30 "$OUT/gpu-tests.log"
timeout "${DIAGNOSE_S:-90}" python3 benchmarks/gpu_diagnose.py 2>&1 | grep -v Warning | tee "$OUT/diagnose.log"
for H in ${HIDDEN:-256 512 1024}; do
    timeout "${BENCH_S:-70}" python3 -m seqkit bench gru --matrix --device cuda --dtype bf16 --matrix-steps 256 \
        --matrix-batch "${BATCHES:-1,16,64}" --matrix-hidden "$H" --repeat 10 --json "$OUT/bf16-H$H.json" | tail -8
done
[ "${RESET_BEFORE:-1}" = 1 ] && timeout "${BENCH_S:-70}" python3 -m seqkit bench gru --matrix --device cuda \
    --dtype bf16 --matrix-steps 256 --matrix-batch 16,64 --matrix-hidden 512 --repeat 10 --option reset_after=false --json "$OUT/bf16-reset-before.json" | tail -8
