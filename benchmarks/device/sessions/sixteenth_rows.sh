# Sixteenth session, third device call (~7 min): the fragment bucket kernel with ROWS weight rows a warp sharing
# its x loads and two k-steps' B quads from one 16-byte load (X16; its first grid, one row a warp and 8-byte loads,
# was 82 us at 4096^2 16 x 16 against the bucket kernel's 32.6: x's loads bound it), its CUDA tests and grid; the
# fragment decode kernel's tests and grid with X16; the register-LUT candidates (now with X_VEC) on CUDA.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_frag.py tests/kernels/test_triton_mma.py \
  tests/kernels/test_prmt_lut.py -k "cuda" 2>&1 | tee $OUT/frag_tests_h200.log | tail -2
timeout 260 python3 benchmarks/mma_grid.py --out $OUT --kernel bucket_frag --gpr 1 --fused 0 --budget-s 70 2>&1 \
  | tee $OUT/bucket_frag_rows_gpr1_h200.log | grep -vE "^\s*$" | tail -12
timeout 150 python3 benchmarks/mma_grid.py --out $OUT --kernel mma --gpr 1 --fused 0 --budget-s 40 2>&1 \
  | tee $OUT/mma_x16_gpr1_h200.log | grep -vE "^\s*$" | tail -12
