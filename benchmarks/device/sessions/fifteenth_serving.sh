# Fifteenth session, fifth device call (~8 min): serving with the v5 choices (the kernel table's one-token picks
# merged in; the fused projections' one-token shapes tune at the start with the register-prefetch configs offered);
# the cache comes back in $OUT/cache for kernels/tuned/NVIDIA_H200.v5.json.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
export SKETCHSERVE_CACHE=$OUT/cache
for gpr in 1 4; do
  timeout 250 python3 benchmarks/bench_serving.py --gpr $gpr --batches 1 16 --tasks 1 16 --new-tokens 32 \
    --out $OUT/gpr$gpr 2>&1 | tee $OUT/serving_h200_fifteenth_gpr$gpr.log | grep -E "tok/s|TTFT|tun" | sed -n 1,14p
done
