# Written in the thirty-fourth session for the next: SPLIT_INNER's CUDA reference tests (and the PDL test's
# cases that did not run), the probe (its levels and SPLIT_INNER against the shipped choices) at gpr 1 and 4, then
# serving 16 x 16 with and without SPLIT_INNER (~8 min in all).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "adjacent or under_pdl" \
  -p no:cacheprovider 2>&1 | tail -2 | tee $OUT/cuda_tests_split_inner.log
grep -q " passed" $OUT/cuda_tests_split_inner.log && ! grep -q "failed" $OUT/cuda_tests_split_inner.log || exit 4
for g in 1 4; do
  timeout 90 python3 benchmarks/bucket_probe.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_probe_split_inner_gpr${g}.log | cut -c1-220
done
# serving 16 x 16 with and without SPLIT_INNER on the WIDE choices, in turns (gpr 1, then 4)
for g in 1 4; do
  for v in shipped split_inner; do
    f=""; [ $v = split_inner ] && f=--split-inner
    timeout 100 python3 benchmarks/device/thirtyfourth_serving.py $v $g $f 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/serving_split_inner.log
  done
done
