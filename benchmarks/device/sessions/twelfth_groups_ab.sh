# Twelfth session (~2 min): 16 prompts of 128 tokens over 16 tasks (steps of 4 tasks' prompts), with the prefill
# graphs taking at most 3 long groups (those steps eager: the committed default then) and 4 (patched in for this run).
source benchmarks/device/prep.sh >/dev/null
for g in 3 4; do
  timeout 100 python3 -c "
import runpy, sys
import server.prefill_graphs as pg
pg.MAX_LONG_GROUPS = $g
sys.argv = ['decode_host_time.py', '--gpr', '1', '--batch', '16', '--tasks', '16', '--decode-steps', '4', '--tokens', '32']
runpy.run_path('benchmarks/decode_host_time.py', run_name='__main__')
" > $OUT/decode_host_time_b16_t16_groups${g}_h200.log 2>&1
  echo "MAX_LONG_GROUPS=$g"; grep -E "^run|^gpr" $OUT/decode_host_time_b16_t16_groups${g}_h200.log
done
