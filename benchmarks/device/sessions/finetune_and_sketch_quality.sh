# The GPU runs of benchmarks/results/*h200*, serving.json and finetune_vs_lora.json, as sent to the lent machine.
# Before: ../shared/tools/device-prep (builds .device-carry: wheels, the default model in 3 parts, the task data).
# Each call carries benchmarks/device (tracked) plus .device-carry/wheels and the parts it needs; see prep.sh.
# Also: mkdir -p .device-carry/tasks && cp ../shared/data/tasks/{boolq_train,boolq_test,math_train}.json .device-carry/tasks/
# The model needs 3 calls in a row (one 34 MiB part each; prep.sh collects them in /root/m while the machine is warm).
source benchmarks/device/prep.sh
assemble_model || exit 1
mkdir -p /root/tasks && cp .device-carry/tasks/*.json /root/tasks/
set -o pipefail
timeout ${FT_TIMEOUT:-420} python3 benchmarks/finetune_vs_lora.py --model /root/m/model.gguf --hf-cache /root/m/hf \
  --data-dir /root/tasks --sketch-root /root/sk --results $OUT/runs --out-dir $OUT \
  --methods ${FT_METHODS:-zero_shot,lora,lut_gpr4} --time-budget-s ${FT_BUDGET:-300} 2>&1 | tee $OUT/finetune.log
if [ -n "$SQ_TIMEOUT" ]; then
  timeout $SQ_TIMEOUT python3 benchmarks/sketch_quality.py --model /root/m/model.gguf --data /root/tasks/math_train.json --out-dir $OUT/sq 2>&1 | tee $OUT/sketch_quality.log
fi
