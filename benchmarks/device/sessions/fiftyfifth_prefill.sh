# Fifty-fifth session's prefill calls (H100, nothing carried): bash benchmarks/device/sessions/fiftyfifth_prefill.sh
# (~8 min, the grid), then on the warm machine ... fiftyfifth_prefill.sh tests (up to ~9.5 min, the CUDA tests),
# and ... fiftyfifth_prefill.sh tritons (the grid under Triton 3.9, WAIT_ASM among it; see that branch)
# The one prefill case at its bar on the H100: 4096x4096, gpr 4, 2,048 tokens over 8 tasks, 1.29-1.36x cuBLAS in
# five runs (the bar 1.3x), 4-5 us slower than gpr 1's 114.0-114.6 (fifty-first session). The SASS shows why: at
# each LUT group boundary (three a tile) the wgmma kernel's warpgroup loads the next group's LUT rows (a DRAM miss:
# no other program reads these rows of this slot) and builds their byte tables before its MMA issue, while the other
# warpgroup waits for its turn. LUT_PREFETCH = D asks L1 for those rows D blocks before the boundary (a predicated
# prefetch a row, no register held). Prediction: the shipped tile with LUT_PREFETCH 2 at 113-115 us (gpr 1's time;
# 118.0-119.8 without), LUT_PREFETCH 1 in between. The grid, the op as it tunes here and cuBLAS in one run:
# $OUT/prefill_grid_gpr4.{json,png}, prefill_grid_gpr4_h100.log. Then the wgmma kernel's CUDA tests (the
# LUT_PREFETCH cases among them; the fifty-fourth session's were cut off at 200 s): $OUT/cuda_tests_prefill_wgmma.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
if [ "$1" = tritons ]; then
  # (carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"], ~5 min, after the first call on the
  # same warm machine) The same grid under Triton 3.9. Under 3.9 the wgmma kernel's K loop has three CTA barriers a
  # block where 3.6 has one (sm_90 compile, fifty-fifth session); the one 3.9 lowers after warpgroup_mma_wait keeps
  # either warpgroup from its next lookups until both MMAs end, which undoes PINGPONG. WAIT_ASM issues that wait as
  # inline PTX (one barrier fewer a block). Prediction: the PINGPONG configs ~1.1x their 3.6 time (~130 us against
  # 118), their WAIT_ASM forms back at 3.6's (~118), and WAIT_ASM with LUT_PREFETCH 2 at 113-115. $OUT/prefill_grid_gpr4_t39.log
  install_triton39 >/dev/null
  timeout 560 python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --budget-s 420 --shapes 4096x4096 \
    --cases "8 tasks x 256" --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_t39.log
  grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed" $OUT/prefill_grid_gpr4_t39.log | tail -30
  exit 0
fi
if [ "$1" = tests ]; then  # "tests t39" (carry Triton 3.9's part): under Triton 3.9
  [ "$2" = t39 ] && install_triton39 >/dev/null
  # (fifty-sixth session) the summary line kept apart from nanobind's leak report at exit
  timeout 560 python3 -m pytest -q -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 \
    | grep -E "passed|failed|FAILED|Error" | tee $OUT/cuda_tests_prefill_wgmma.log
  exit 0
fi
timeout 560 python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --budget-s 420 --shapes 4096x4096 --cases "8 tasks x 256" \
  --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_h100.log
grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed" $OUT/prefill_grid_gpr4_h100.log | tail -24
