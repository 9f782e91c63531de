# Eleventh session, second device call (~6 min): the serving points at gpr 4 and 1 (batch 1 / 16, 1 / 16 tasks)
# with everything of the tenth session on, against its figures (results/serving_h200_tenth.json).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 560 python3 benchmarks/bench_serving.py --out $OUT --gpr 4 1 --batches 1 16 --tasks 1 16 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log | grep -E "gpr=|burst|ttft"
