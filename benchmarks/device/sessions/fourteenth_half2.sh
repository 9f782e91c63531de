# Fourteenth session, first device call (~8 min): the one-token register-LUT kernel with fp16 products (HALF2):
# its CUDA tests, then the grid of both forms on the shapes the server runs (4096^2 and the fused 7B projections).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py 2>&1 \
  | tee $OUT/prmt_tests_half2_h200.log | tail -3
timeout 300 python3 benchmarks/decode_grid.py --out $OUT --m 1 --fused 1 --modes prmt,prmt_h2 --budget-s 100 2>&1 \
  | tee $OUT/decode_grid_half2_h200.log | grep -A8 "^best"
