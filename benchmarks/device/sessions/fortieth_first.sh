# Written in the thirty-ninth session for the next (~8 min): the merged 32- and 64-token WIDE choices through the op
# on CUDA (the shipped-choices test and the op at 17-64 rows over 16 tasks), then the serving table with its new
# batch-32 rows (bench_serving's default batches are now 1, 16, 32, 64), gpr 1 and 4.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py \
  -k "shipped or 17_to_64 or offers" 2>&1 | tail -2 | tee $OUT/cuda_tests_wide_above16.log
for g in 1 4; do
  mkdir -p $OUT/gpr$g
  timeout 170 python3 benchmarks/bench_serving.py --out $OUT/gpr$g --gpr $g --bandwidth 4.25e12 --memory-gb 139 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/serving_gpr$g.log | grep "batch=\|TTFT 512\|residency"
done
# where a 16-token call's ~6.8 us of fixed time goes (bucket_probe.py --fixed-cost: intercepts with and without the
# split-K epilogue and the fold's LUT loads)
timeout 150 python3 benchmarks/bucket_probe.py --out $OUT --fixed-cost 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/bucket_fixed_cost_gpr1.log
# the bucket threshold above 16 rows (7 tasks, measured with the wgmma form in the thirty-second session): the WIDE
# choices made 32 rows 1.13-1.45x faster, so the crossover with the gather class may have moved down; 4-6 tasks at
# 32 and 64 rows with the threshold at 4 (bucket) against 7 (gather), one process each
for thr in 7 4; do
  timeout 120 python3 benchmarks/device/serving_threshold.py thr$thr $thr 4,5,6 2>&1 | grep "^\[" \
    | tee -a $OUT/threshold_above16.log
done
