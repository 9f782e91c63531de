# Fifty-seventh session (H100): the gpr-4 grid of 4096x4096, 8 tasks x 256 tokens, beside the op as it tunes here
# and cuBLAS, with the three forms not yet timed among the PINGPONG tiles: EXPECT_ASM (Triton >= 3.9 only; the
# refill's arrive-and-expect as inline PTX), LATE_TABLES 1 / 2 (a boundary's table loads after the MMA issue) and
# LUT_STAGE (the tile's LUT rows of every group copied into shared memory by one TMA at its start; a boundary's
# tables read from there: no DRAM wait at the boundary, 4 LDS.128 a lane where there were 16 LDG).
# Predictions (shipped tile, against the plain PINGPONG tile in the same run, 117.4-118.9 us under 3.6):
# EXPECT_ASM 117-119 under 3.9 (3.6's time); LATE_TABLES 114-117 (1), 113-116 (2); LUT_STAGE 113-115 (gpr 1's
# 114.0-114.6 is its floor: the boundary's stall gone, nothing added to the other blocks).
# The grid: the shipped tile's 8 variants (--wgmma-tile 256x128x4), run twice.
#   "fiftyseventh_prefill.sh t39" (carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]):
#       the grid under Triton 3.9, then the wgmma CUDA tests under 3.9 -> $OUT/*_t39*.log
#   "fiftyseventh_prefill.sh" (nothing carried): the same under the machine's Triton 3.6 -> $OUT/*_t36.log
#   "fiftyseventh_prefill.sh grid" / "t39 grid": the grid alone.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
tag=t36
[ "$1" = t39 ] && install_triton39 >/dev/null && tag=t39
# the shipped tile's variants only (8 configs), RUNS times (2): the run-to-run spread beside the differences
for run in $(seq 1 ${RUNS:-2}); do
  timeout 150 python3 benchmarks/prefill_grid.py --out $OUT/run$run --gpr 4 --shapes 4096x4096 \
    --cases "8 tasks x 256" --kinds wgmma --wgmma-tile 256x128x4 2>&1 | grep -v "Warn\|warn_once" \
    > $OUT/prefill_grid_gpr4_${tag}_run$run.log
  grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed" $OUT/prefill_grid_gpr4_${tag}_run$run.log | tail -12
done
[ "$1" = grid ] || [ "$2" = grid ] && exit 0
timeout 330 python3 -m pytest -q -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 \
  | grep -E "passed|failed|FAILED|Error" | tee $OUT/cuda_tests_prefill_wgmma_$tag.log
