# Forty-third session (~2 min): the int8 kernel's BASE_CORR form (one int8 digit through each token's LUT, the
# remainder through the base LUT's 7-bit tables: a real math task LUT measured as accurate as fp16 this session) --
# its CUDA tests, then its timing against the op's choices, ONE_DIGIT and the two-digit form (16 x 16, gpr 1).
source benchmarks/device/prep.sh >/dev/null
timeout 240 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_int8_onehot.py 2>&1 | tail -8 \
  | tee $OUT/cuda_tests_int8.log
timeout 300 python3 benchmarks/bucket_int8.py --out $OUT 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_int8_gpr1.log
