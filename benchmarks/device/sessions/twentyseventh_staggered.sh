# Twenty-seventh session (~6 min): the staggered serving runs over 4 and 8 tasks (gpr 1, batch 16, 32 new tokens)
# with the op's new prefill plan (segment tiles for 3+ long runs, short runs' bursts tiled) and the shipped tiles
# choices; the nineteenth session's runs: 765.1 tok/s over 4 tasks, 633 over 8. Prediction: +5-15 % (the prefill
# steps over 4-8 tasks are a third to a half of those runs' time; their projections ~1.4x faster).
# $1: the session named in the logs (default twentyseventh; twentyeighth_staggered.sh runs it again)
SESSION=${1:-twentyseventh}
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for tasks in 4 8; do
  SKETCHSERVE_CACHE=/tmp/sscache timeout 175 python3 benchmarks/bench_serving.py --gpr 1 --batches 16 --tasks $tasks \
    --new-tokens 32 --out $OUT/staggered_tasks$tasks 2>&1 | grep -v "Warn\|warn_once" \
    > $OUT/serving_h200_staggered_tasks${tasks}_$SESSION.log
  grep -E "tok/s" $OUT/serving_h200_staggered_tasks${tasks}_$SESSION.log | head -6; echo "== $tasks tasks ($SECONDS s)"
done
