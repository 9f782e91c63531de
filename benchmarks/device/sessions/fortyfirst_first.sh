# Written in the fortieth session for the next, in two calls: `fortyfirst_first.sh 1` (~7 min), then
# `fortyfirst_first.sh 4` (~5 min). The LEVEL_SPLIT form of the WIDE bucket kernel (a weight row's 16 code values over
# P = 2 or 4 lanes, token tiles of 32 or 64: 2 / P set.eq an HMMA instead of two; CPU-tested only: the numpy model of
# its index algebra, the one-hot program in the emulator and the sm_90 compile) against the reference on CUDA (the
# first call), then timed against the op's choices at 32 and 64 tokens over 16 tasks at gpr $1 (each call).
source benchmarks/device/prep.sh >/dev/null
g=${1:-1}
if [ "$g" = 1 ]; then
  timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py -k level_split 2>&1 \
    | tail -4 | tee $OUT/cuda_tests_level_split.log
fi
timeout 400 python3 benchmarks/bucket_level_split.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/bucket_level_split_gpr$g.log | grep -v "^    "
