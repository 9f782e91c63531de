# Thirty-first session (~5 min): the wgmma bucket kernel (kernels/triton_bucket_wgmma.py, new: the one-hot built in
# wgmma's A registers, x by TMA) on the GPU for the first time: its CUDA tests, then its grid against the shipped
# bucket kernel and cuBLAS (benchmarks/bucket_wgmma_grid.py) at gpr 1.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py 2>&1 | tail -12 \
  > $OUT/cuda_tests_bucket_wgmma.log
tail -6 $OUT/cuda_tests_bucket_wgmma.log
timeout 300 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --gpr ${GPR:-1} --cases ${CASES:-16x16,64x16,8x8} 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/bucket_wgmma_grid.log
cut -c1-400 $OUT/bucket_wgmma_grid.log | tail -30
