# Forty-fourth session (~6 min): the int8 mode's per-step choice (int8_max_lut_distance) on the H200.
# 1. The int8 engine tests (the new one: a far task's steps run exact, bit for bit the exact engine's) and the
#    prefill graphs' tests (their keys carry the int8 choice now).
# 2. Serving 16 x 16 in the int8 mode with the task LUTs 2 % off the base (bench_serving.INT8_TASK_SPREAD): the
#    guard lets them through, so the step should be the one measured before it (7.04 ms gpr 1, 7.89 gpr 4).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -p no:cacheprovider -rfE tests/server/test_int8_activations.py 2>&1 | tail -5 \
  | tee $OUT/cuda_tests_int8_guard.log
timeout 130 python3 -m pytest -q -p no:cacheprovider -rfE tests/server/test_prefill_graphs.py 2>&1 | tail -5 \
  | tee -a $OUT/cuda_tests_int8_guard.log
for g in 1 4; do
  timeout 90 python3 benchmarks/device/serving_ab.py int8 $g --int8-activations 2>&1 | grep "batch=\|Error"
done | tee $OUT/int8_guard_serving.log
