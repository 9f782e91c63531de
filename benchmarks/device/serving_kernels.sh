# One device call after kernels_bucket.sh (same warm machine): the serving benchmark with the bucket kernel
# from MIN_TASKS (default 8) distinct tasks in a step (if its CUDA tests passed), peers included; then the gather
# kernel alone on the multi-task cases, for the comparison in one run.
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
KERNEL=gather; [ -f /root/kres/bucket_ok ] && KERNEL=auto
echo "decode kernel: $KERNEL"
set -o pipefail
SKETCHSERVE_DECODE_KERNEL=$KERNEL SKETCHSERVE_BUCKET_MIN_TASKS=${MIN_TASKS:-8} timeout ${SERVE_TIMEOUT:-330} \
  python3 benchmarks/bench_serving.py --out $OUT --peers --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 \
  --gpr 4 1 2>&1 | tee $OUT/serving.log
SKETCHSERVE_DECODE_KERNEL=gather timeout ${GATHER_TIMEOUT:-150} python3 benchmarks/bench_serving.py --out $OUT/gather \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 --gpr 4 --batches 16 64 --tasks 4 16 2>&1 | tee $OUT/serving_gather.log
