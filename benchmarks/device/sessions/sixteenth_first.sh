# Written in the fifteenth session for the next one's first device call (~6 min): the register-LUT tests on CUDA
# (now with x's pairs from one 16-byte load per word under HALF2, X_VEC), then the one-token grid of HALF2 with and
# without X_VEC (4.44 -> 4.00 instructions per weight on sm_90; 168 -> 128 registers at 16 x 1024 with prefetch)
# at the fused 7B shapes, gpr 1, prefetch 0 and 1.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py 2>&1 | tee $OUT/prmt_tests_h200.log | tail -2 \
  || { echo "prmt tests failed"; exit 1; }
timeout 380 python3 benchmarks/decode_grid.py --out $OUT --m 1 --fused 1 --modes prmt_h2,prmt_h2xv --prefetch 0,1 \
  --stages 1 --gpr 1 --budget-s 200 > $OUT/grid_h2xv_gpr1.log 2>&1; grep -A5 "^best" $OUT/grid_h2xv_gpr1.log
