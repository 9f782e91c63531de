# One device call (~6 min): the CUDA tests of this session's untimed kernel variants (the register-LUT kernel's
# X_VEC and GROUP_SPLIT, test_prmt_lut.py; every bucket candidate, PAIRS included, test_triton_bucket.py), then
# the grid of the cols layout with PAIRS (K over columns) at M = 16 over 16 tasks (bucket_cols_grid.py).
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout ${TEST_TIMEOUT:-240} python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py \
  tests/kernels/test_triton_bucket.py 2>&1 \
  | tee $OUT/bucket_tests.log | tail -3
timeout ${GRID_TIMEOUT:-150} python3 benchmarks/bucket_cols_grid.py --out $OUT --pairs 1 --budget-s ${BUDGET:-80} 2>&1 \
  | tee $OUT/bucket_pairs_grid.log | grep -A8 "^best"
