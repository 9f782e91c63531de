# Twentieth session (~3 min): the serving run of the nineteenth's serving_h200_prefill_groups_tasks4 (gpr 1, 16 rows
# over 4 tasks) with the LUT buffers pinned ahead (LUT load 227.8 ms, cold 512-token TTFT 263.3 ms before) and each
# new prefill-graph key's cost recorded (burst over 4 tasks: 784.9 ms mean TTFT with 5 keys captured, 246.8 again).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
SKETCHSERVE_CACHE=/tmp/sscache timeout 300 python3 benchmarks/bench_serving.py --gpr 1 --batches 16 --tasks 4 \
  --new-tokens 32 --out $OUT/serving 2>&1 | tee $OUT/serving_h200_pin_ahead_twentieth.log | grep -v Warn
python3 -c "
import json,sys
d=json.load(open('$OUT/serving/serving.json'))
def walk(o):
    if isinstance(o,dict):
        if 'capture_s' in o: print('capture_s', o['capture_s'])
        for v in o.values(): walk(v)
    elif isinstance(o,list):
        for v in o: walk(v)
walk(d)"
