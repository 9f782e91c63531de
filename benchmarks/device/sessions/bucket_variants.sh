# One device call (~6 min): the CUDA tests of the bucket kernels (PRELOAD_FOLD and maxnreg among the configs), then
# every 3/4-bit cols candidate as it is, with the fold's LUT gathers issued at once, and under a register cap
# (bucket_cols_grid.py --variants 1: gpr 1 and 4 on the three 7B shapes, M = 16 over 16 tasks).
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout ${TEST_TIMEOUT:-200} python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py 2>&1 \
  | tee $OUT/bucket_tests.log | tail -3
timeout ${GRID_TIMEOUT:-330} python3 benchmarks/bucket_cols_grid.py --out $OUT --variants 1 --budget-s ${BUDGET:-45} 2>&1 \
  | tee $OUT/bucket_variants.log | grep -E "gpr [14]:|failed|WRONG"
