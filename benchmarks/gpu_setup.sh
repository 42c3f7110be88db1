# Sourced by the device scripts (gpu_check.sh, gpu_train.sh): what both need before their first command.
# $OUT made; the carried wheels (.whl) installed, since the device image lacks omegaconf; the Triton compile cache
# a previous session returned (.gpu-cache/triton-cache.tgz, from gpu_check.sh) restored, so kernels compiled then
# are not compiled again.
set -o pipefail
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
    export PYTHONPATH=$PWD/plugins:/tmp/site  # the wheel's entry points, this tree's plugin code
fi
export PYTHONUNBUFFERED=1 SEQKIT_DISABLE_PLUGINS=onednn TRITON_CACHE_DIR=/tmp/triton-cache
mkdir -p "$TRITON_CACHE_DIR"
if [ -f .gpu-cache/triton-cache.tgz ]; then
    tar -xzf .gpu-cache/triton-cache.tgz -C "$TRITON_CACHE_DIR"
fi
