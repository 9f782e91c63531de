# Sixty-third session, first call (~9 min, carry .device-carry): the one-task decode keys tuned again with the AHEAD
# candidates on a fresh cache for the GPU that came (H100: 8 tokens, which its file lacks; H200: 4 and 8 tokens,
# whose shipped choices predate AHEAD), then the one-token kernel's BN 4 x 2 warps against BN 8 x 4 warps in turns.
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
case "$gpu" in *H200*) file=kernels/tuned/NVIDIA_H200.v8.json; tokens=4,8 ;; *) file=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json; tokens=8 ;; esac
SKETCHSERVE_CACHE=$OUT/cache SKETCHSERVE_SHIPPED_TUNING=0 timeout 340 python3 \
  benchmarks/device/sessions/sixtysecond_retune.py $file $tokens 2>&1 | grep -v -i warn | tail -13
timeout 200 python3 benchmarks/device/sessions/sixtysecond_one_token.py 2>&1 | grep -v -i warn | tail -5
