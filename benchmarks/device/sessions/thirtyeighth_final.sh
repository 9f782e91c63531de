# Thirty-eighth session (~4 min): the shipped state after ONE_FOLD (both forms) and the 64-token gpr 4 choices at
# split-K 4: the shipped-choices test on CUDA, then serving 16 x 16 and 64 x 16 at gpr 1 and 4, one process each.
source benchmarks/device/prep.sh >/dev/null
timeout 120 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -p no:cacheprovider \
  -k "shipped" 2>&1 | tail -2 | tee $OUT/cuda_tests_shipped.log
for g in 1 4; do
  for b in 16 64; do
    timeout 100 python3 benchmarks/device/serving_ab.py shipped $g --batch=$b 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/serving_shipped.log
  done
done
