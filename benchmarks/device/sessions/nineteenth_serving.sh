# Nineteenth session (~6 min): where the staggered run over 4 tasks loses its time (528 tok/s against 1,591 over one
# task at gpr 4; lock-step 16 x 4 runs 1,474): the per-step trace bench_serving.py now records (batch size, tasks,
# prefill tokens, model steps, ms). Then 8 rows over 6 tasks with the bucket kernel from 5 tasks against the default
# (the few-task class up to 6 at <= 8 rows, a threshold interpolated from the 4- and 8-task grid).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
SKETCHSERVE_CACHE=/tmp/sscache timeout 200 python3 benchmarks/bench_serving.py --gpr 1 --batches 16 --tasks 4 \
  --new-tokens 32 --out $OUT/stagger_gpr1 2>&1 | tee $OUT/serving_h200_staggered_trace.log | grep -E "tok/s|autotune"
for min in default 5; do
  [ $min = default ] && unset SKETCHSERVE_BUCKET_MIN_TASKS || export SKETCHSERVE_BUCKET_MIN_TASKS=$min
  SKETCHSERVE_CACHE=/tmp/sscache timeout 150 python3 benchmarks/bench_serving.py \
    --gpr 1 --batches 8 --tasks 6 --new-tokens 32 --out $OUT/eight_by_six_min$min 2>&1 \
    | tee $OUT/serving_h200_8x6_bucket_min$min.log | grep -E "tok/s|autotune"
done
