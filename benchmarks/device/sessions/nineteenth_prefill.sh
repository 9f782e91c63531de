# Nineteenth session (~3 min): the staggered run's slow prefill steps over 4 tasks (94-223 ms against ~21 ms for one
# task; results/serving_h200_staggered_trace.json): the op alone on the server's projection shapes at the step's
# token layouts (benchmarks/prefill_tasks.py), eager and in a graph; then a profile of the dense path's case.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 400 python3 benchmarks/prefill_tasks.py --gpr 1 --dense-min 128,96,64,32 --out $OUT 2>&1 | tee $OUT/prefill_tasks_gpr1_h200.log | grep -v Warn
