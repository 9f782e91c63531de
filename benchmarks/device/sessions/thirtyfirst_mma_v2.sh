# Thirty-first session (~4 min): the bucket kernel's mma.sync form (MMA_V2: the wgmma bucket kernel's one-hot A
# fragments and TMA ring, mma.sync instead of wgmma) at 16 and 8 tokens, against the wgmma form, the shipped bucket
# kernel and cuBLAS; its CUDA tests first.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py -k "mma_sync" 2>&1 \
  | tail -3 | tee $OUT/cuda_tests_mma_v2.log
timeout 300 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --gpr ${GPR:-1} --cases ${CASES:-16x16,8x8} 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/bucket_mma_v2_grid.log
cut -c1-330 $OUT/bucket_mma_v2_grid.log | tail -30
