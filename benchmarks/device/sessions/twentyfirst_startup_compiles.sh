# Twenty-first session (~5 min): which kernels compile after the start now (the fifteenth session: none; the burst
# run's log showed _decode_mma_kernel, _decode_prmt_dot_kernel, _decode_prmt_tokens_kernel and _bucket_kernel
# compiles in bench_serving's staggered and burst runs). 8 layers: the compiles do not depend on the depth.
source benchmarks/device/prep.sh >/dev/null
for t in 16 2; do
  SKETCHSERVE_CACHE=/tmp/sscache_$t timeout 250 python3 benchmarks/startup_compiles.py --gpr 1 --tasks $t --layers 8 \
    2>&1 | grep -v Warn > $OUT/startup_compiles_tasks${t}_twentyfirst_${TAG:-before}_h200.log
  grep -v '^\[compile' $OUT/startup_compiles_tasks${t}_twentyfirst_${TAG:-before}_h200.log | cut -c1-400 | tail -25
done
