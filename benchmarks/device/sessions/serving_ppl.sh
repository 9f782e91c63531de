# The default model's perplexity through the served CUDA path against the offline LUT model (serving_ppl.py).
# Before: ../shared/tools/device-prep and benchmarks/device/split_in_two.sh (the model in 2 halves of <= 50 MB).
# Two calls in a row: the first carries half_aa (prep.sh collects it in /root/m and the script stops at the
# model check), the second half_ab; each also carries .device-carry/wheels and .device-carry/tasks.
source benchmarks/device/prep.sh
assemble_model || exit 0
mkdir -p /root/tasks && cp .device-carry/tasks/*.json /root/tasks/
set -o pipefail
# sketched on the GPU (4-bit, gpr 4, data-free calibration: the default sketch's settings), then scored
[ -f /root/sk/sketch.safetensors ] || timeout ${SK_TIMEOUT:-300} python3 -m server.cli sketch --model /root/m/model.gguf \
  --out /root/sk --bits 4 --gpr 4 --quiet 2>&1 | tail -5
timeout ${PPL_TIMEOUT:-240} python3 benchmarks/serving_ppl.py --model /root/sk --device cuda ${PPL_ARGS:-} \
  --data /root/tasks/math_train.json --out $OUT 2>&1 | tee $OUT/serving_ppl.log
