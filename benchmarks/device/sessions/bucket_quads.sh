# One device call (~6 min): the CUDA tests of the bucket kernels (every candidate, QUADS included: its compiled path
# has not run on a GPU), then the grid of the cols layout in QUADS order (v13: K over 16-bit code words, x split
# into its column phases) at M = 16 over 16 tasks (bucket_cols_grid.py --quads 1).
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout ${TEST_TIMEOUT:-200} python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py 2>&1 \
  | tee $OUT/bucket_tests.log | tail -3
timeout ${GRID_TIMEOUT:-200} python3 benchmarks/bucket_cols_grid.py --out $OUT --quads 1 --budget-s ${BUDGET:-120} 2>&1 \
  | tee $OUT/bucket_quads_grid.log | grep -A8 "^best"
