# Written in the forty-fourth session for the next (~6 min): the int8 mode's digits from the fused RMSNorm and SiLU
# (SKETCHSERVE_INT8_NORM_DIGITS=1; written after that session's device time ran out, interpreter-tested only).
# 1. CUDA tests: the int8 engine file (its new test: the norms' digits change no token or log-probability and
#    launch fewer digits kernels; the far-task test again, now on the weight-space distance) and the fused ops'
#    digits test.
# 2. Serving 16 x 16 in the int8 mode, norm digits off and on, in turns, gpr 1 and 4 (off: 7.05 / 7.88 ms a step).
#    If on is faster, make it the default (server/model.py INT8_NORM_DIGITS) and say so in the README.
source benchmarks/device/prep.sh >/dev/null
timeout 300 python3 -m pytest -q -p no:cacheprovider -rfE tests/server/test_int8_activations.py \
  tests/server/test_fused_ops.py -k "int8" 2>&1 | tail -5 | tee $OUT/cuda_tests_norm_digits.log
for g in 1 4; do
  for v in 0 1 0 1; do
    SKETCHSERVE_INT8_NORM_DIGITS=$v timeout 70 python3 benchmarks/device/serving_ab.py norm_digits_$v $g \
      --int8-activations 2>&1 | grep "batch=\|Error"
  done
done | tee $OUT/int8_norm_digits_ab.log
