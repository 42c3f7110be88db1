#!/usr/bin/env bash
# Issue 22 item 4 in one device call (about 9 minutes at most): recipes/translation/gru_multi30k.yaml trained end to
# end on the GPU in bf16 mixed precision, once with backend cudnn and once with backend triton, each under a time
# limit; the run folders' metrics.json (tokens/s, test2016 BLEU) go to $OUT. The corpus must travel with the
# tree, since the device machine reaches nothing: here, first
#   mkdir -p .gpu-data && cp -r "$SEQKIT_DATA/multi30k" .gpu-data/ && echo /.gpu-data/ >> .git/info/exclude
# and carry .gpu-data and .whl (see gpu_check.sh for the wheels).
set -o pipefail
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
    export PYTHONPATH=$PWD/plugins:/tmp/site
fi
export PYTHONUNBUFFERED=1 SEQKIT_DISABLE_PLUGINS=onednn SEQKIT_DATA=$PWD/.gpu-data
for backend in cudnn triton; do
    timeout "${TRAIN_S:-270}" python3 -m seqkit train translation/gru_multi30k run_dir="/tmp/run-$backend" \
        model.cell.backend="$backend" trainer.precision=bf16-mixed trainer.accelerator=gpu \
        trainer.max_time="${MAX_TIME:-00:00:03:30}" 2>&1 | grep -v Warning | tail -15 | tee "$OUT/train-$backend.log"
    cp "/tmp/run-$backend/metrics.json" "$OUT/metrics-$backend.json" 2>/dev/null
done
