# The default model's perplexity through the served CUDA path with windows of 512 prefilled in chunks of 128 (the
# later chunks attend to cached rows: the lower-right CausalBias path) against the offline LUT model. Two calls in a
# row as serving_ppl.sh (half_aa, then half_ab; each with .device-carry/wheels and .device-carry/tasks).
source benchmarks/device/prep.sh
assemble_model || exit 0
mkdir -p /root/tasks && cp .device-carry/tasks/*.json /root/tasks/
set -o pipefail
[ -f /root/sk/sketch.safetensors ] || timeout ${SK_TIMEOUT:-300} python3 -m server.cli sketch --model /root/m/model.gguf \
  --out /root/sk --bits 4 --gpr 4 --quiet 2>&1 | tail -5
timeout ${PPL_TIMEOUT:-240} python3 benchmarks/serving_ppl.py --model /root/sk --device cuda --token-budget 128 \
  --data /root/tasks/math_train.json --out $OUT 2>&1 | tee $OUT/serving_ppl.log
