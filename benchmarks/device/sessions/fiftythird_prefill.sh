# Fifty-third session's prefill call (H100, nothing carried): bash benchmarks/device/sessions/fiftythird_prefill.sh
# The prefill grid at 4096x4096, gpr 4, 2,048 tokens over 8 tasks: the one prefill case at its bar on the H100
# (1.32x, 1.295x and 1.34x cuBLAS in three runs; the bar 1.3x). Every kernel's configs against the op as it tunes
# here and cuBLAS, in one run, the wgmma kernel's LUT_AHEAD configs among them (written in the fifty-third session
# after the first run of this script; prediction 117.8 -> 112-115 us): $OUT/prefill_grid_gpr4.{json,png},
# prefill_grid_gpr4_h100.log. Then the wgmma kernel's CUDA tests (LUT_AHEAD's cases among them):
# $OUT/cuda_tests_prefill_wgmma.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 360 python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --budget-s 240 --shapes 4096x4096 --cases "8 tasks x 256" \
  --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_h100.log
grep "cuBLAS\|best\|LUT_AHEAD\|WRONG\|failed" $OUT/prefill_grid_gpr4_h100.log | tail -20
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 | tail -4 \
  | tee $OUT/cuda_tests_prefill_wgmma.log
