#!/usr/bin/env bash
# Issue 22 item 4 in one device call (about 9 minutes at most): recipes/translation/gru_multi30k.yaml trained end to
# end on the GPU in bf16 mixed precision, once with backend cudnn and once with backend triton, each under a time
# limit; the run folders' metrics.json (tokens/s, test2016 BLEU) go to $OUT. The corpus must travel with the
# tree, since the device machine reaches nothing: here, first
#   mkdir -p .gpu-data && cp -r "$SEQKIT_DATA/multi30k" .gpu-data/ && echo /.gpu-data/ >> .git/info/exclude
# and carry .gpu-data and .whl (see gpu_check.sh for the wheels; .gpu-cache too, if you kept gpu_check.sh's compiled
# Triton kernels). TRAIN_S bounds each run; Lightning stops training SCORE_S earlier, so that the test set is scored
# and metrics.json written before the bound (2026-12-04: a run cut by the bound itself kept last.ckpt but no score).
TRAIN_S=${TRAIN_S:-270}
training=$((TRAIN_S - ${SCORE_S:-60}))
if [ "$training" -lt 30 ]; then
    echo "gpu_train.sh: TRAIN_S=$TRAIN_S leaves under 30 s of training after SCORE_S" >&2
    exit 2
fi
source benchmarks/gpu_setup.sh
export SEQKIT_DATA=$PWD/.gpu-data
max_time=$(printf '00:%02d:%02d:%02d' $((training / 3600)) $((training % 3600 / 60)) $((training % 60)))
for backend in cudnn triton; do
    timeout "$TRAIN_S" python3 -m seqkit train translation/gru_multi30k run_dir="/tmp/run-$backend" \
        model.cell.backend="$backend" trainer.precision=bf16-mixed trainer.accelerator=gpu \
        trainer.max_time="$max_time" 2>&1 | grep -v Warning | tail -15 | tee "$OUT/train-$backend.log"
    cp "/tmp/run-$backend/metrics.json" "$OUT/metrics-$backend.json" 2>/dev/null
done
