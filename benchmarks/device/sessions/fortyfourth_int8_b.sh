# Forty-fourth session, second call (~6 min): what the first call's 200 s test limit cut off, and gpr 4's int8 configs.
# 1. The int8 PDL test and the engine test (cut off by the first call's limit), and the op test (its config now
#    carries PDL: 1).
# 2. bucket_int8.py --base-corr at gpr 4: BLOCK_K 64-256 at split 4, the op's new choice (BLOCK_K 128 at K 4,096;
#    64 on the down projection's groups of 2,752 columns) against the old (256) and the exact op.
# 3. Serving 16 x 16 with the op's int8 config as it now is (PDL on; gpr 4's BLOCK_K), exact at gpr 4 for the turn.
source benchmarks/device/prep.sh >/dev/null
timeout 240 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_int8_onehot.py \
  tests/server/test_int8_activations.py -k "pdl_launches or int8_activations_take or op_takes" 2>&1 | tail -6 \
  | tee $OUT/cuda_tests_int8_b.log
timeout 150 python3 benchmarks/bucket_int8.py --out $OUT --gpr 4 --base-corr 2>&1 | grep -v "Warn\|warn_once\|skipped" \
  | tee $OUT/bucket_int8_bc_gpr4.log
for g in 4 1; do
  timeout 110 python3 benchmarks/device/serving_ab.py int8 $g --int8-activations 2>&1 | grep "batch=\|Error"
done | tee $OUT/int8_serving_b.log
timeout 110 python3 benchmarks/device/serving_ab.py exact 4 2>&1 | grep "batch=\|Error" | tee -a $OUT/int8_serving_b.log
