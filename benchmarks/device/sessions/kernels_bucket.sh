# Device call 1 of a session: the bucket-sum decode kernels checked on CUDA (the gpu-marked kernel tests, then
# every bucket test compiled), then the gather/bucket sweep (both bucket layouts: the crossover).
# Leaves /root/kres/bucket_ok when the tests pass (serving_kernels.sh reads it while the machine is warm); the
# Triton cache it fills (~/.triton) also saves the next calls' compiles. MAIN=1 adds the main kernel table.
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
mkdir -p /root/kres && rm -f /root/kres/bucket_ok
set -o pipefail
timeout ${TEST_TIMEOUT:-300} python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py \
  tests/kernels/test_triton_forward.py tests/kernels/test_triton_backward.py -m gpu 2>&1 | tee $OUT/gpu_tests.log \
  && timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py 2>&1 | tee -a $OUT/gpu_tests.log \
  && touch /root/kres/bucket_ok
ls /root/kres
timeout ${SWEEP_TIMEOUT:-170} python3 benchmarks/bench_kernels.py --sweep --sweep-kinds gather,bucket --no-main --out $OUT 2>&1 | tee $OUT/sweep.log
if [ -n "$MAIN" ]; then
  timeout ${KERNEL_TIMEOUT:-200} python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log
fi
cp $OUT/*.json /root/kres/ 2>/dev/null; true
