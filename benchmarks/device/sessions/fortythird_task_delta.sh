# Forty-third session (third of three calls; the first two carried .device-carry/model/part_aa and _ab): how far a real task
# LUT moves the weights from the base's, and what the int8 forms cost in perplexity with it. The default model
# sketched here (gpr 4), a math task LUT fine-tuned with the product's defaults (one epoch of math_train, lr 1e-4),
# (its training rows: math_train less its last 200), then int8_activation_ppl.py on the held-out solutions (the
# last rows first, serving_ppl.py's tokens) with the task LUT applied: float16, two digits, one digit, and int8base
# (one digit through the task's LUT plus the remainder through the base's).
source benchmarks/device/prep.sh >/dev/null
assemble_model || exit 1
set -o pipefail
python3 -c "import json; d = json.load(open('../shared/data/tasks/math_train.json')); \
json.dump(d[:-200], open('/root/math_train_head.json', 'w'))"
timeout 400 python3 -m server.cli finetune --base /root/m/model.gguf --data /root/math_train_head.json \
  --task math --out $OUT/math_task.safetensors --device cuda --quiet 2>&1 | tail -3
SK=$(ls -d ~/.cache/sketchserve/sketches/*/ | head -1); echo "sketch: $SK"
timeout 200 python3 benchmarks/int8_activation_ppl.py --model "$SK" --lut $OUT/math_task.safetensors \
  --data ../shared/data/tasks/math_train.json --out $OUT 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/int8_ppl_math.log
