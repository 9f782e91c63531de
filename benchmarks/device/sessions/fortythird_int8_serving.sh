# Forty-third session (~5 min): the engine's opt-in int8 activation mode (the int8 bucket kernel's BASE_CORR form
# at 9-16 rows) against the shipped exact path, 16 x 16 on the random Llama-2-7B shape, one process each, in turns.
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do for i in 1 2; do
  timeout 110 python3 benchmarks/device/serving_ab.py int8 $g --int8-activations 2>&1 | grep "batch=\|Error\|error"
  timeout 110 python3 benchmarks/device/serving_ab.py exact $g 2>&1 | grep "batch=\|Error\|error"
  [ $g = 4 ] && break
done; done | tee $OUT/int8_serving_ab.log
