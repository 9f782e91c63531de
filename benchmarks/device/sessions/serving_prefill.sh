# One device call (~7 min): the serving table with both prefill fixes of the seventh session (4-D SDPA, no idle wait
# after an output-less step), a 2,048-token prompt's TTFT, and graph prefill up to 256 rows on a 200-token prompt.
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
set -o pipefail
timeout ${SERVE_TIMEOUT:-300} python3 benchmarks/bench_serving.py --out $OUT --bandwidth 4.25e12 --memory-gb 139 \
  --new-tokens 32 2>&1 | tee $OUT/serving.log
mkdir -p $OUT/long $OUT/graph256
timeout 90 python3 benchmarks/bench_serving.py --out $OUT/long --gpr 1 --batches 16 --tasks 1 --ttft-prompt 2048 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/long/serving.log | grep -iE "ttft|start"
timeout 150 python3 benchmarks/bench_serving.py --out $OUT/graph256 --gpr 1 --batches 1 16 64 --tasks 1 \
  --cuda-graph-max-batch 256 --short-prompt 200 --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 \
  | tee $OUT/graph256/serving.log | grep -iE "ttft|tok/s|start"
cp ~/.cache/sketchserve/autotune/*.json $OUT/autotune_choices.json 2>/dev/null
