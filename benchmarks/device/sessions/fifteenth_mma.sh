# Fifteenth session, sixth and seventh device calls (~1 and ~5 min; the seventh with two row blocks a warp): the fragment kernel (kernels/triton_decode_mma.py) on CUDA: its
# tests (the asm against the reference), then its configs against the op's current choice and cuBLAS at the 7B
# shapes (benchmarks/mma_grid.py).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py 2>&1 | tee $OUT/mma_tests_h200.log | tail -3 \
  || { echo "mma tests failed"; grep -E "Error|assert" $OUT/mma_tests_h200.log | head -20; exit 1; }
timeout 330 python3 benchmarks/mma_grid.py --out $OUT --gpr 1 --fused 0 --budget-s 60 2>&1 | tee $OUT/mma_grid_h200.log | grep -vE "^\s*$" | tail -25
