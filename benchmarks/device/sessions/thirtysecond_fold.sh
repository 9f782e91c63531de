# Thirty-second session, third call: the WIDE form with its fold's LUT entries loaded as one contiguous run per
# (row, token) (f_layout; 128 registers where it took 168-220): its CUDA tests, then the grid at gpr 1 and 4.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py -k "wide" 2>&1 \
  | tail -4 | tee $OUT/cuda_tests_wide_fold_thirtysecond.log
for g in 1 4; do
  timeout 160 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --wide --cases 16x16,8x8 --gpr $g 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/bucket_wide_fold_grid_gpr${g}_thirtysecond.log | grep -v "best MMA" | cut -c1-230
done
