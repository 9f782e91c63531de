# Written in the forty-second session for the next (~1.5 min): the int8 bucket kernel with its one-byte tables as
# prmt immediates (written after that session's device time ran out; the timed form was correct on the H200) -- its
# tests on CUDA, then its timing against the op's choices at 16 tokens over 16 tasks (gpr 1).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_int8_onehot.py 2>&1 | tail -5 \
  | tee $OUT/cuda_tests_int8.log
timeout 300 python3 benchmarks/bucket_int8.py --out $OUT 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_int8_gpr1.log
