# For the session after the fifty-ninth (H100, the device's Triton 3.6, nothing carried, ~6-8 min with a cold
# cache): the whole wgmma prefill test file on the GPU, CODES_TMA's remaining cases among them (CUDA_CASES 3-6 and
# the split-K case with CODES_TMA; cases 0-2 passed in the fifty-ninth session). Then CODES_TMA can be made the
# PINGPONG tiles' default (as lut_stage does for LUT_STAGE).   -> $OUT/cuda_tests_prefill_wgmma_t36.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout ${TEST_S:-560} python3 -m pytest -q -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 \
  | grep -v "leak\|nanobind" | tail -15 | tee $OUT/cuda_tests_prefill_wgmma_t36.log
