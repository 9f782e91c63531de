# Fifty-third session's third call (H100, nothing carried): bash benchmarks/device/sessions/fiftythird_prefill.sh
# The prefill grid at 4096x4096, gpr 4, 2,048 tokens over 8 tasks: the one prefill case at its bar on the H100
# (1.32x and 1.295x cuBLAS in two runs; the bar 1.3x). Every kernel's configs against the op as it tunes here and
# cuBLAS, in one run: $OUT/prefill_grid_gpr4.{json,png}, prefill_grid_gpr4_h100.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 420 python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --budget-s 240 --shapes 4096x4096 --cases "8 tasks x 256" \
  2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_h100.log
grep "cuBLAS\|best\|budget\|WRONG\|failed" $OUT/prefill_grid_gpr4_h100.log | tail -20
