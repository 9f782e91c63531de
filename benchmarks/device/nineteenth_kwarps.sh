# Nineteenth session (~6 min): K_WARPS, a fragment-kernel program's warps in groups along K, each one PRELOAD chunk
# of the same rows, summed in the program (shared memory) instead of across programs (split-K's workspace and
# arrival counter: ~40 % of the warps' stall samples at 16 tokens of one task, results/ncu_mma_h200_nineteenth.log).
# The CUDA tests of the fragment kernel first (the new K_WARPS cases among them), then the grid against the op as
# shipped and cuBLAS at gpr 1. Prediction: 16 tokens of one task at 4096x4096 16.5 -> ~11 us.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 150 python3 -m pytest -q -x tests/kernels/test_triton_mma.py 2>&1 | tail -4
timeout 380 python3 benchmarks/mma_grid.py --kernel mma_kwarps --gpr 1 --budget-s 45 --out $OUT 2>&1 \
  | tee $OUT/mma_kwarps_grid_gpr1_h200.log | grep -v Warn
