# Eighteenth session (~8 min): serving with the op's few-task class (2-4 tasks at up to 16 rows: the fragment kernel
# under its own tuned key; the bucket kernel from 5) against without it (SKETCHSERVE_FEW_TASKS=0: gather below 4
# tasks, the bucket kernel from 4), gpr 1, batch 8 and 16 over 2 and 4 tasks, each on a fresh tuning cache (the
# shipped choices under it). Prediction from the kernel grid (a layer's four projections): 16 x 4 333 -> 276 us
# (~+15 % tok/s), 16 x 2 310 -> 175 us (~+40 %), 8 x 2 416 -> 142 (~2x). Then the CUDA tests of the dispatch and
# of the graphs keyed by kernel class. The few-task choices tuned here come back in autotune_few1.json.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for few in 0 1; do
  SKETCHSERVE_CACHE=/tmp/sscache$few SKETCHSERVE_FEW_TASKS=$few timeout 200 python3 benchmarks/bench_serving.py \
    --gpr 1 --batches 8 16 --tasks 2 4 --new-tokens 32 --out $OUT/few$few 2>&1 \
    | tee $OUT/serving_h200_few$few.log | grep -E "tok/s"
  cp /tmp/sscache$few/autotune/*.json $OUT/autotune_few$few.json 2>/dev/null
done
timeout 170 python3 -m pytest -q -p no:cacheprovider -x tests/kernels/test_triton_bucket.py tests/kernels/test_triton_mma.py \
  tests/server/test_kernel_tuning.py tests/server/test_prefill_graphs.py 2>&1 | tail -3
