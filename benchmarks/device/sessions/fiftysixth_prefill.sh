# Fifty-sixth session (H100, nothing carried, ~7 min): WAIT_ASM made PINGPONG's default wait (tma_options), and
# LUT_AHEAD / LUT_PREFETCH removed (both lost). The gpr-4 grid of 4096x4096, 8 tasks x 256 tokens under Triton 3.6,
# the PINGPONG tiles with either wait, beside the op as it tunes here and cuBLAS (prediction: the two waits alike,
# 117-119 us, as this session's first grid; the op ~118): $OUT/prefill_grid_gpr4_t36.log. Then the wgmma kernel's
# CUDA tests (every PINGPONG case now with the inline-PTX wait; split-K's with either):
# $OUT/cuda_tests_prefill_wgmma.log
# "fiftysixth_prefill.sh t39" (carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]): the grid
# under Triton 3.9 only (prediction: the op ~124 us, against 136.8 before; Gluon's wait 149-159).
# (Written after that run: EXPECT_ASM joins the 3.9 grid; prediction: the shipped tile at 117-119 us, 3.6's time.)
# "fiftysixth_prefill.sh grid": the grid alone under 3.6. It ran once with GROUP_PREFETCH 1 and 2 among it (a group's
# LUT rows asked of L1 under a branch taken only one or two blocks before its boundary; predicted 114-116 us on the
# shipped tile): 121.1 and 133.4 us against 117.9, so it was removed
# (results/prefill_grid_gpr4_t36_group_prefetch_fiftysixth.log).
# Next run of "grid" (written after it): LATE_TABLES among it, a boundary's table loads and permutes moved after the
# MMA issue and the other warpgroup's turn, no work added (compiled: 217 registers against 238, the loads between
# the TMA refill and the DEPBAR), and LATE_TABLES 2 (the loads one block earlier, the permutes at the boundary).
# Prediction: the shipped tile at 114-117 us (1) and 113-116 (2) against 117.4-118.9.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
tag=t36
[ "$1" = t39 ] && install_triton39 >/dev/null && tag=t39
timeout 200 python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --budget-s 150 --shapes 4096x4096 \
  --cases "8 tasks x 256" --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_$tag.log
grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed" $OUT/prefill_grid_gpr4_$tag.log | tail -20
[ "$1" = t39 ] || [ "$1" = grid ] && exit 0
timeout 340 python3 -m pytest -q -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 \
  | grep -E "passed|failed|FAILED|Error" | tee $OUT/cuda_tests_prefill_wgmma.log
