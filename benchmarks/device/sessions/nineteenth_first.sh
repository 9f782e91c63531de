# Nineteenth session, first device call (~7 min): the few-task class at gpr 4 in serving (the eighteenth session's
# grid: 6-18 % less linear time than the better of the one-task choice and the bucket kernel at 2-4 tasks), off
# and on, each on a fresh tuning cache; the gpr-4 decode_few choices come back in autotune_few1_gpr4.json to ship in
# kernels/tuned. Prediction: 16 x 4 ~1,050 -> ~1,200 tok/s, 8 x 4 +30 %.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for few in 0 1; do
  SKETCHSERVE_CACHE=/tmp/sscache$few SKETCHSERVE_FEW_TASKS=$few timeout 230 python3 benchmarks/bench_serving.py \
    --gpr 4 --batches 8 16 --tasks 2 4 --new-tokens 32 --out $OUT/few${few}_gpr4 2>&1 \
    | tee $OUT/serving_h200_few_tasks${few}_gpr4.log | grep -E "tok/s|autotune"
  cp /tmp/sscache$few/autotune/*.json $OUT/autotune_few${few}_gpr4.json 2>/dev/null
done
