# One device call (~6 min): the fused-ops tests on CUDA (the model test runs the engine on the GPU), then the
# one-token grid of the register-LUT and gather-FMA decode kernels (benchmarks/decode_m1_grid.py).
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/server/test_fused_ops.py 2>&1 | tee $OUT/fused_tests.log | tail -3
timeout ${GRID_TIMEOUT:-330} python3 benchmarks/decode_m1_grid.py --out $OUT --budget-s ${BUDGET:-200} 2>&1 \
  | tee $OUT/decode_m1_grid.log | grep -A7 "^best"
