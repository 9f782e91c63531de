# Eighteenth session (~6 min): the fragment kernel with PRELOAD (one chunk of 128-512 columns a program, its code
# words by 16-byte loads and its LUT tables before the PDL wait; kernels/triton_decode_mma.py). Prediction: the
# chunk loop's serial DRAM round trips (4 per warp at 4096x4096, split 8) become one, so 4-16 tokens of one task at
# 4096x4096 11.8-13.9 -> ~8-10 us. The CUDA fragment tests first (the asm against the reference), then the grid
# against the op as shipped and cuBLAS in one process.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 60 python3 benchmarks/device/sessions/preload_diag.py 2>&1 | grep -v Warn
timeout 400 python3 benchmarks/mma_grid.py --kernel mma_preload --gpr 1 --budget-s 100 --out $OUT 2>&1 \
  | grep -v Warning | tee $OUT/mma_preload_grid_gpr1_h200.log
