# Fifty-eighth session (H100, the device's Triton 3.6, nothing carried): LUT_STAGE as the PINGPONG tiles' default at
# gpr > 1 (the fifty-seventh session's grid-only form; it won the grid this session: 114.4-115.2 us against
# 117.4-118.0). Checks that the op now takes it, then runs the wgmma CUDA tests over the new default.
# Prediction: "shipped op" at 4096x4096 gpr 4, 8 tasks x 256, 114-116 us (1.31-1.33x cuBLAS); the grid's
# PINGPONG tile (staged by default now) 114-116, its LUT_STAGE 0 twin 117-118.5.
#   -> $OUT/prefill_grid_gpr4_t36.log, $OUT/cuda_tests_prefill_wgmma_t36.log (pytest's last lines, as they come)
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 150 python3 benchmarks/prefill_grid.py --out $OUT/grid --gpr 4 --shapes 4096x4096 \
  --cases "8 tasks x 256" --kinds wgmma --wgmma-tile 256x128x4 2>&1 | grep -v "Warn\|warn_once" \
  > $OUT/prefill_grid_gpr4_t36.log
grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed" $OUT/prefill_grid_gpr4_t36.log | tail -8
timeout ${TEST_S:-300} python3 -m pytest -q -x -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 \
  | grep -v "leak\|nanobind" | tail -15 | tee $OUT/cuda_tests_prefill_wgmma_t36.log
