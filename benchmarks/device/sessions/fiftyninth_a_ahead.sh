# Fifty-ninth session (H100, the device's Triton 3.6, nothing carried): A_AHEAD, the next K block's weight tile looked
# up while the warpgroup's own MMA runs (a second set of A registers: 245 against 241 under 3.6, no spills), on the
# prefill bar's case, 4096x4096, gpr 4, 8 tasks x 256, beside the shipped tile (LUT_STAGE). Then A_AHEAD's CUDA tests.
# Prediction (benchmarks/NOTES.md, "Where the rest of the prefill time goes": the block period M + L becomes about
# max(2M, L)): A_AHEAD with the turns 95-105 us against the shipped tile's 115-116; without the turns the same or a
# little slower.
#   -> $OUT/prefill_grid_gpr4_t36.log, $OUT/cuda_tests_a_ahead_t36.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 benchmarks/prefill_grid.py --out $OUT/grid --gpr 4 --shapes 4096x4096 \
  --cases "8 tasks x 256" --kinds wgmma --wgmma-tile 256x128x4 2>&1 | grep -v "Warn\|warn_once" \
  > $OUT/prefill_grid_gpr4_t36.log
grep "cuBLAS\|best\|PINGPONG': 1\|A_AHEAD\|WRONG\|failed\|rror" $OUT/prefill_grid_gpr4_t36.log | tail -12
[ "$1" = grid ] && exit 0
timeout ${TEST_S:-300} python3 -m pytest -q -x -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py -k matches 2>&1 \
  | grep -v "leak\|nanobind" | tail -15 | tee $OUT/cuda_tests_a_ahead_t36.log
