# Forty-fifth session, second call (~8 min): the norms' digits were slower at gpr 1 (7.03 -> 7.33 ms a step) and
# faster at gpr 4 (7.88 -> 7.67) with both producers on; time each producer alone (SKETCHSERVE_INT8_NORM_DIGITS
# = norm | silu) beside none and both, in turns, then the engine file on CUDA (its graph keys changed since its
# last CUDA run).
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do
  for v in 0 norm silu 1 0 norm silu 1; do
    SKETCHSERVE_INT8_NORM_DIGITS=$v timeout 70 python3 benchmarks/device/serving_ab.py digits_$v $g \
      --int8-activations 2>&1 | grep "batch=\|Error"
  done
done | tee $OUT/int8_digits_producers_ab.log
bash benchmarks/device/cuda_tests.sh engine
