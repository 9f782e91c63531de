# Written in the forty-third session for the next (~6 min): the int8 activation mode's first steps.
# 1. The int8 tests on CUDA (the engine test and the bf16 op test are new and have not run on a GPU; the digits
#    kernel's one-step form neither).
# 2. bucket_int8.py at gpr 1 and 4: BASE_CORR with its digits' launch now (the one-step digits kernel) against
#    the forty-third session's 1.09-1.33x; gpr 4's configs (split 4).
# 3. Serving 16 x 16, int8 mode against exact, in turns (the forty-third session: 7.35 against 8.76 ms at gpr 1),
#    and the int8 mode with PDL (written after that session's device time: not yet timed).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_int8_onehot.py \
  tests/server/test_int8_activations.py 2>&1 | tail -6 | tee $OUT/cuda_tests_int8.log
for g in 1 4; do
  timeout 150 python3 benchmarks/bucket_int8.py --out $OUT --gpr $g --shapes 5 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_int8_gpr$g.log
done
for g in 1 4; do
  timeout 110 python3 benchmarks/device/serving_ab.py int8 $g --int8-activations 2>&1 | grep "batch=\|Error"
  timeout 110 python3 benchmarks/device/serving_ab.py exact $g 2>&1 | grep "batch=\|Error"
  timeout 110 python3 benchmarks/device/serving_ab.py int8_pdl $g --int8-activations '--int8={"PDL": 1}' 2>&1 \
    | grep "batch=\|Error"
done | tee $OUT/int8_serving_ab.log
