# Thirty-ninth session (~3 min): the wgmma form's reference tests as refactored in the thirty-eighth session (never
# run on CUDA in that form), then mma.sync's rate with fp16 accumulators beside fp32 (mma_rate.py --f16acc).
source benchmarks/device/prep.sh >/dev/null
timeout 240 python3 -m pytest -q tests/kernels/test_triton_bucket_wgmma.py -p no:cacheprovider \
  -k "matches or folding" 2>&1 | tail -3 | tee $OUT/cuda_tests_wgmma_refactored.log
timeout 120 python3 benchmarks/mma_rate.py --f16acc 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/mma_rate_f16acc.log
