# Thirty-first session, last call (~5 min): the CUDA tests of both wgmma kernels after their split-K workspace became
# one helper (triton_common.split_k_tiles), then the kernel table's decode cases (bench_kernels.py --phases decode),
# whose 64-row 16-task bucket column now takes the wgmma bucket kernel.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py \
  tests/kernels/test_prefill_wgmma.py -k "split or reference or routes or mma_sync" 2>&1 | tail -3 \
  | tee $OUT/cuda_tests_final_thirtyfirst.log
timeout 270 python3 benchmarks/bench_kernels.py --out $OUT --phases decode 2>&1 | grep -v "Warn\|warn_once" \
  > $OUT/kernels_decode_thirtyfirst.log
grep -i "M=64\|16 tasks" $OUT/kernels_decode_thirtyfirst.log | cut -c1-200 | head -20
