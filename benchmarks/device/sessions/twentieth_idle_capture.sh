# Twentieth session (~5 min): prefill-graph keys captured in the engine's idle moments (or at their second step)
# instead of on their first step. CUDA tests of the prefill graphs and the engine, then twentieth_serving.sh's run
# (before: burst over 4 tasks 903.7 ms mean TTFT on its first run, 5 keys: first steps 450 ms, captures 423 ms;
# 250.0 ms on the second run).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 240 python3 -m pytest -q -x tests/server/test_prefill_graphs.py tests/server/test_engine.py \
  tests/server/test_overlap.py 2>&1 | tail -4
SKETCHSERVE_CACHE=/tmp/sscache timeout 300 python3 benchmarks/bench_serving.py --gpr 1 --batches 16 --tasks 4 \
  --new-tokens 32 --out $OUT/serving 2>&1 | tee $OUT/serving_h200_idle_capture_twentieth.log | grep -v Warn
