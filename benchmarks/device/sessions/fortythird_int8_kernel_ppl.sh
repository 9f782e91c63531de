# Forty-third session (third of three calls; the first two carried .device-carry/model/part_aa and _ab, ~5 min):
# the int8 kernel's CUDA tests (BASE_CORR through the op), then fortythird_task_delta.sh's math task LUT again
# (the same recipe) scored in the int8 bucket kernel's own arithmetic (int8kernel: a second digit for the
# remainder, the base LUT in 7-bit levels: what --int8-activations serves).
source benchmarks/device/prep.sh >/dev/null
assemble_model || exit 1
timeout 150 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_int8_onehot.py 2>&1 | tail -4 \
  | tee $OUT/cuda_tests_int8.log
set -o pipefail
python3 -c "import json; d = json.load(open('../shared/data/tasks/math_train.json')); \
json.dump(d[:-200], open('/root/math_train_head.json', 'w'))"
timeout 300 python3 -m server.cli finetune --base /root/m/model.gguf --data /root/math_train_head.json \
  --task math --out /root/math_task.safetensors --device cuda --quiet 2>&1 | tail -1
SK=$(ls -d ~/.cache/sketchserve/sketches/*/ | head -1)
timeout 200 python3 benchmarks/int8_activation_ppl.py --model "$SK" --lut /root/math_task.safetensors \
  --modes float32,float16,int8,int8base,int8kernel --data ../shared/data/tasks/math_train.json --out $OUT 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/int8_ppl_math.log
