# Twelfth session (~2 min): the prefill steps of 16 prompts of 128 tokens over 16 tasks (4 tasks' prompts a 512-token
# step: more long groups than MAX_LONG_GROUPS, so eager) against 12 prompts over 3 tasks (at most 3 groups: the
# prefill graphs). decode_host_time prints each run's prefill steps (tokens, tasks, ms); run 1 is profiled.
# Usage: twelfth_prefill_groups.sh [LABEL]: LABEL ("_after") names the logs of a second run and adds the CUDA tests
# of start-up tuning and dense prefill (run after the start-up tuning of runs of one slot).
source benchmarks/device/prep.sh >/dev/null
label=${1:-}
for t in 16 3; do
  b=$([ $t = 16 ] && echo 16 || echo 12)
  timeout 120 python3 benchmarks/decode_host_time.py --gpr 1 --batch $b --tasks $t --decode-steps 4 --tokens 32 \
    > $OUT/decode_host_time_b${b}_t${t}_prefill${label}_h200.log 2>&1
  grep -E "^run|^gpr" $OUT/decode_host_time_b${b}_t${t}_prefill${label}_h200.log
done
if [ -n "$label" ]; then
  (cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider \
    test_kernel_tuning.py test_dense_prefill.py 2>&1 | tail -1)
fi
