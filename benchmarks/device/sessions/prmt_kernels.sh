# One device call (~8 min): the register-LUT decode kernels (kernels/triton_decode_prmt.py) on CUDA: their tests and
# the gather/forward GPU tests (the autotuner's new candidates), the sweep of the autotuner's lists (gather kinds
# now include the register-LUT configs; bucket for the crossover), then the main kernel table (MAIN=1).
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout ${TEST_TIMEOUT:-240} python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py \
  tests/kernels/test_triton_forward.py 2>&1 | tee $OUT/prmt_tests.log | tail -5
timeout ${SWEEP_TIMEOUT:-200} python3 benchmarks/bench_kernels.py --sweep --sweep-kinds gather,bucket --no-main --out $OUT \
  2>&1 | tee $OUT/sweep.log | grep "best"
if [ -n "$MAIN" ]; then
  timeout ${KERNEL_TIMEOUT:-200} python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log | tail -30
fi
