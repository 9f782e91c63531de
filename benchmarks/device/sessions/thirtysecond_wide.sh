# Thirty-second session, first call: the WIDE form of the bucket kernel (8 weight rows a warp, each lane's encoded
# codes compared with every code value): its CUDA tests against the reference, then the 16-token grid (16 and 8
# tasks) on the three shapes against the shipped bucket kernel and cuBLAS.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py -k "wide" 2>&1 \
  | tail -4 | tee $OUT/cuda_tests_wide_thirtysecond.log
timeout 330 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --wide --cases 16x16,8x8 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/bucket_wide_grid_gpr1_thirtysecond.log | cut -c1-400
