# Fifteenth session, eighth device call (~5 min): the kernel table and serving with the v6 choices (the fragment
# kernel offered up to 16 tokens; the multi-token decode shapes tune again); caches come back for kernels/tuned/.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
export SKETCHSERVE_CACHE=$OUT/cache
timeout 300 python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log | grep -E "^decode .* T= 1:" | cut -c1-150
for gpr in 1 4; do
  timeout 130 python3 benchmarks/bench_serving.py --gpr $gpr --batches 1 16 --tasks 1 16 --new-tokens 32 \
    --out $OUT/gpr$gpr 2>&1 | tee $OUT/serving_h200_fifteenth_mma_gpr$gpr.log | grep -E "tok/s|tun" | sed -n 1,5p
done
