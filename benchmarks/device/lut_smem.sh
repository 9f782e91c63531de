# Written in the thirty-fifth session: LUT_SMEM's CUDA reference tests, the probe (the levels, and the shipped choices
# with and without LUT_SMEM) at gpr 1 and 4, serving 16 x 16 with and without it (gpr 1, then 4), in turns (~8 min).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "lut_rows_by_tma or lut_smem" \
  -p no:cacheprovider 2>&1 | tail -2 | tee $OUT/cuda_tests_lut_smem.log
grep -q " passed" $OUT/cuda_tests_lut_smem.log && ! grep -q "failed" $OUT/cuda_tests_lut_smem.log || exit 4
for g in 1 4; do
  timeout 90 python3 benchmarks/bucket_probe.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_probe_lut_smem_gpr${g}.log | cut -c1-250
done
for g in 1 4; do
  for v in no-lut-smem lut-smem; do
    timeout 100 python3 benchmarks/device/serving_ab.py $v $g --$v 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/serving_lut_smem.log
  done
done
