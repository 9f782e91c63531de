# Thirty-fourth session, fifth call (~2 min): the probe's levels (no one-hots; and no split-K epilogue; and no LUT
# loads) on five shapes at gpr 1, and the PDL CUDA test in its final form.
source benchmarks/device/prep.sh >/dev/null
timeout 50 python3 benchmarks/bucket_probe.py --out $OUT --gpr 1 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/bucket_probe_levels_gpr1_thirtyfourth.log | cut -c1-200
timeout 55 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "under_pdl" -p no:cacheprovider \
  2>&1 | tail -2 | tee $OUT/cuda_tests_pdl_thirtyfourth.log
