# Nineteenth session (~4 min): the staggered serving runs with prefill graphs for bursts of up to 8 tasks' prompts
# (MAX_LONG_GROUPS 3 -> 8) and the dense path from 64-token segments in eager steps (DENSE_MIN_TOKENS 128 -> 64),
# with the per-step trace; over 4 tasks (before: 574.9 tok/s, prefill steps 223 / 122 / 94 ms) and 8.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for tasks in 4 8; do
  SKETCHSERVE_CACHE=/tmp/sscache timeout 200 python3 benchmarks/bench_serving.py --gpr 1 --batches 16 --tasks $tasks \
    --new-tokens 32 --out $OUT/groups_tasks$tasks 2>&1 | tee $OUT/serving_h200_prefill_groups_tasks$tasks.log \
    | grep -E "tok/s|autotune"
done
