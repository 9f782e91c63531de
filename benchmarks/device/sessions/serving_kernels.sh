# Device call 2 (same warm machine as kernels_bucket.sh): the main kernel table (both decode kernels per case,
# cuBLAS, LoRA, gather-then-matmul), then the serving benchmark with the bucket kernel from MIN_TASKS (default 8)
# distinct tasks in a step (if its CUDA tests passed in call 1), peers included. GATHER=1 adds a gather-only
# serving run of the multi-task cases.
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
set -o pipefail
timeout ${KERNEL_TIMEOUT:-170} python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log
KERNEL=gather; [ -f /root/kres/bucket_ok ] && KERNEL=auto
echo "decode kernel: $KERNEL"
SKETCHSERVE_DECODE_KERNEL=$KERNEL SKETCHSERVE_BUCKET_MIN_TASKS=${MIN_TASKS:-8} timeout ${SERVE_TIMEOUT:-330} \
  python3 benchmarks/bench_serving.py --out $OUT --peers --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 \
  --gpr 4 1 2>&1 | tee $OUT/serving.log
if [ -n "$GATHER" ]; then
  SKETCHSERVE_DECODE_KERNEL=gather timeout ${GATHER_TIMEOUT:-150} python3 benchmarks/bench_serving.py \
    --out $OUT/gather --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 --gpr 4 --batches 16 64 --tasks 4 16 \
    2>&1 | tee $OUT/serving_gather.log
fi
