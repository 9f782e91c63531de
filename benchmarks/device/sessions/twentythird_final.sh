# Twenty-third session, last device call (~9 min): the bucket kernel's CUDA tests with the new fold (every candidate,
# fp16 and bf16, 1/16/64 tokens), the kernel table with it (bench_kernels.py), then the engine-level server tests.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py 2>&1 \
  | tee $OUT/bucket_gpu_tests_h200_twentythird.log | tail -2
SKETCHSERVE_CACHE=$OUT/cache timeout 240 python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log \
  | grep -E "T=16|T= 16" | cut -c1-150
SKETCHSERVE_CACHE=/tmp/testcache timeout 130 python3 -m pytest -q -p no:cacheprovider tests/server/test_engine.py \
  2>&1 | tee $OUT/engine_gpu_tests_h200_twentythird.log | tail -2
