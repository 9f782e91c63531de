# Twelfth session (~2 min; run before and after the start-up tuning of runs of one slot): the prefill steps of 16 prompts of 128 tokens over 16 tasks (4 tasks' prompts a 512-token
# step: more long groups than MAX_LONG_GROUPS, so eager) against 12 prompts over 3 tasks (at most 3 groups: the
# prefill graphs). decode_host_time prints each run's prefill steps (tokens, tasks, ms); run 1 is profiled.
source benchmarks/device/prep.sh >/dev/null
for t in 16 3; do
  b=$([ $t = 16 ] && echo 16 || echo 12)
  timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch $b --tasks $t --decode-steps 4 --tokens 32 \
    > $OUT/decode_host_time_b${b}_t${t}_prefill_h200.log 2>&1
  grep -E "^run|^gpr" $OUT/decode_host_time_b${b}_t${t}_prefill_h200.log
done
