# Sixty-second session (H100, Triton 3.6, ~4 min, carry .device-carry): the fragment kernel's and the stamped copies'
# CUDA tests under today's defaults (AHEAD candidates, SUM_AT_ONCE), written to $OUT.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 500 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py tests/kernels/test_decode_timeline.py \
  2>&1 | grep -v -i warn > $OUT/cuda_tests_mma_sixtysecond.log; tail -3 $OUT/cuda_tests_mma_sixtysecond.log
