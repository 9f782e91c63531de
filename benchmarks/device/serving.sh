# The GPU runs of benchmarks/results/*h200*, serving.json and finetune_vs_lora.json, as sent to the lent machine.
# Before: ../shared/tools/device-prep (builds .device-carry: wheels, the default model in 3 parts, the task data).
# Each call carries benchmarks/device (tracked) plus .device-carry/wheels and the parts it needs; see prep.sh.
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name,memory.total --format=csv
set -o pipefail
timeout ${SERVE_TIMEOUT:-560} python3 benchmarks/bench_serving.py --out $OUT --peers --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log
cp ~/.cache/sketchserve/autotune/*.json $OUT/autotune_choices.json 2>/dev/null  # which configs the autotuner took
