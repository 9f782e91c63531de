# Sixty-second session (H100, Triton 3.6, ~5 min, carry .device-carry): the one-task decode keys at 4 and 16 tokens
# tuned again with the AHEAD candidates on a fresh cache, old and new choices in turns (sixtysecond_retune.py); the
# cache comes back for ship_choices.py.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
export SKETCHSERVE_CACHE=$OUT/cache SKETCHSERVE_SHIPPED_TUNING=0
timeout 420 python3 benchmarks/device/sessions/sixtysecond_retune.py kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json \
  2>&1 | grep -v -i warn | tail -14
