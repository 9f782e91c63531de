# Written in the fifteenth session (~5 min): the fragment bucket kernel (kernels/triton_bucket_frag.py, checked on
# the CPU only) on CUDA: its tests, then its grid against the op's bucket kernel at the 7B shapes, gpr 1 and 4.
# sm_90 SASS predicts ~1.2 warp instructions per weight at 16 tokens (4 words a lane), 56 registers: issue-bound
# near 20 us at 4096x4096, against the bucket kernel's 32.6.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_frag.py 2>&1 | tee $OUT/bucket_frag_tests_h200.log | tail -3 \
  || { echo "bucket frag tests failed"; grep -E "Error|assert" $OUT/bucket_frag_tests_h200.log | head -20; exit 1; }
for gpr in 1 4; do
  timeout 200 python3 benchmarks/mma_grid.py --out $OUT --kernel bucket_frag --gpr $gpr --budget-s 80 2>&1 \
    | tee $OUT/bucket_frag_grid_gpr${gpr}_h200.log | grep -vE "^\s*$" | tail -20
done
