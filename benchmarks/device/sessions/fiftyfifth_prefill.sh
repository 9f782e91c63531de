# Fifty-fifth session's prefill calls (H100, nothing carried): bash benchmarks/device/sessions/fiftyfifth_prefill.sh
# (~5 min, the grid), then on the warm machine ... fiftyfifth_prefill.sh tests (up to ~9.5 min, the CUDA tests),
# and ... fiftyfifth_prefill.sh tritons (Triton 3.6 against 3.9 on the prefill rows; see that branch)
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
  # (carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"], ~8 min) The kernel table's prefill
  # rows on 4096x4096 under the device's Triton 3.6, then 3.9, each tuning in its own cache, cuBLAS in each run.
  # Under 3.9 the wgmma kernel's K loop has three CTA barriers a block where 3.6 has one (sm_90 compile, fifty-fifth
  # session): one after the wgmma wait, so neither warpgroup starts its next lookups before both MMAs end, which
  # undoes PINGPONG. Prediction: 3.9 at about the TMA form's time without PINGPONG (1.1x 3.6's at 2,048 tokens).
  # $OUT/prefill_t{36,39}.log
  SKETCHSERVE_CACHE=/root/pf_t36 timeout 250 python3 benchmarks/bench_kernels.py --out $OUT/t36 --phases prefill \
    --shapes 4096x4096 2>&1 | grep -v "Warn\|warn_once\|leaked\|nanobind\|skipped remainder\|refleaks" > $OUT/prefill_t36.log
  install_triton39 >/dev/null
  timeout 300 python3 benchmarks/bench_kernels.py --out $OUT/t39 --phases prefill --shapes 4096x4096 2>&1 \
    | grep -v "Warn\|warn_once\|leaked\|nanobind\|skipped remainder\|refleaks" > $OUT/prefill_t39.log
  grep "M=2048" $OUT/prefill_t36.log $OUT/prefill_t39.log | cut -c1-140
  exit 0
fi
if [ "$1" = tests ]; then
  timeout 560 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 | tail -4 \
    | tee $OUT/cuda_tests_prefill_wgmma.log
  exit 0
fi
timeout 300 python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --budget-s 250 --shapes 4096x4096 --cases "8 tasks x 256" \
  --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_h100.log
grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed" $OUT/prefill_grid_gpr4_h100.log | tail -24
