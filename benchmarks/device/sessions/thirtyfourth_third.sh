# Thirty-fourth session, third call (~6 min): the probe again with LUT_L2 (the fold's LUT prefetched into L2) beside
# it, then serving 16 x 16 at gpr 1: the wgmma bucket kernel without PDL (as shipped before), with PDL (now), and
# with PDL and LUT_L2 (each one process).
source benchmarks/device/prep.sh >/dev/null
timeout 60 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "wide and reference" -p no:cacheprovider \
  2>&1 | tail -2 | tee $OUT/cuda_tests_wide_thirtyfourth.log
for g in 1 4; do
  timeout 90 python3 benchmarks/bucket_probe.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_probe_lut_l2_gpr${g}_thirtyfourth.log
done
for v in "nopdl --no-wgmma-pdl" "pdl" "pdl_lut_l2 --lut-l2"; do
  set -- $v
  timeout 110 python3 benchmarks/device/thirtyfourth_serving.py $v 1 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_pdl_lut_l2_thirtyfourth.log
done
