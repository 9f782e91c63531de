# One device call (~6 min): the fused-ops tests on CUDA (the model test runs the engine on the GPU), then the
# decode kernels' config grid at M tokens over TASKS tasks (benchmarks/decode_grid.py; default M=1, TASKS=1:
# the register-LUT and gather-FMA one-token kernels, as run on 2026-11-30 for results/decode_m1_grid.json).
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/server/test_fused_ops.py 2>&1 | tee $OUT/fused_tests.log | tail -3
timeout ${GRID_TIMEOUT:-330} python3 benchmarks/decode_grid.py --out $OUT --m ${M:-1} --tasks ${TASKS:-1} \
  --budget-s ${BUDGET:-200} --down ${DOWN:-0} 2>&1 | tee $OUT/decode_grid.log | grep -A8 "^best"
