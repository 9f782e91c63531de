# Twenty-seventh session, last call (~5 min): the kernel table's prefill rows (bench_kernels.py --phases prefill)
# with the op's new plan and the shipped tiles choices (gpr 1); gpr 4's tiles choices tune here into $OUT/cache.
# Prediction: 8 tasks x 256 on 4096x4096 ~160 us (was 225.6), one task unchanged (~106).
source benchmarks/device/prep.sh >/dev/null
SKETCHSERVE_CACHE=$OUT/cache timeout 400 python3 benchmarks/bench_kernels.py --out $OUT --phases prefill 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/kernels_prefill_twentyseventh.log
grep "^prefill\|done" $OUT/kernels_prefill_twentyseventh.log
