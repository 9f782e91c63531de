# Forty-second session: the op-offer test as fixed this session (it failed in kernels4: the LEVEL_SPLIT configs the
# op now offers above 16 tokens), then where the 16 x 16 gpr 1 step's GPU time goes now (step_kernels.py; the last
# profile was the thirty-fifth session's, before the prefetching attention, RELEASE and the WIDE re-tunes).
source benchmarks/device/prep.sh >/dev/null
timeout 120 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_triton_bucket_wgmma.py \
  -k "op_offers_the_wide_form" > $OUT/cuda_tests_op_offer.log 2>&1; tail -3 $OUT/cuda_tests_op_offer.log
mkdir -p $OUT/steps
timeout 300 python3 benchmarks/step_kernels.py --gpr 1 --batch 16 --tasks 16 --out $OUT/steps 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/step_kernels_gpr1.log | tail -20
