# Written in the fortieth session for the next (~9 min): the LEVEL_SPLIT form of the WIDE bucket kernel (4 weight
# rows a warp, a row's 16 code values over two lanes, 32-token tiles: one set.eq an HMMA instead of two; CPU-tested
# only: the numpy model of its index algebra and the sm_90 compile) against the reference on CUDA, then timed against
# the op's choices at 32 and 64 tokens over 16 tasks (gpr 1 and 4). Then what the fortieth session's suite run did
# not reach (its 560 s and 330 s limits): the rest of tests/kernels.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py -k level_split 2>&1 \
  | tail -4 | tee $OUT/cuda_tests_level_split.log
for g in 1 4; do
  timeout 210 python3 benchmarks/bucket_level_split.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_level_split_gpr$g.log | grep -v "^    "
done
