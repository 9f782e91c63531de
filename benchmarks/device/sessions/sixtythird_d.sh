# Sixty-third session, last call (~7 min, Triton 3.6, carry .device-carry): on an H200 first its one-task decode keys at 4 and 8 tokens tuned with the AHEAD candidates
# (sixtysecond_retune.py; the cache comes back for ship_choices.py); then the kernel table's one-task decode rows
# (1, 4, 8, 16 tokens; the op told the batch's one task, as the engine tells it) with the shipped choices (H100:
# EARLY on six keys, the 8-token keys, BN 4 at one token on 4096x4096 gpr 1; H200: those just tuned); the one-token
# BN comparison once more (its loop now bench_kernels.layers); the fragment kernel's CUDA tests after X_FIRST's
# removal in the time left.
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
export SKETCHSERVE_CACHE=$OUT/cache
case "$gpu" in *H200*)
  SKETCHSERVE_SHIPPED_TUNING=0 timeout 200 python3 benchmarks/device/sessions/sixtysecond_retune.py \
    kernels/tuned/NVIDIA_H200.v8.json 4,8 2>&1 | grep -v -i warn | tail -12 ;;
esac
timeout 200 python3 benchmarks/bench_kernels.py --out $OUT --phases decode --decode-cases 1:1,4:1,8:1,16:1 \
  --tell-tasks 2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" > $OUT/kernels.log
grep -E "T= 1:" $OUT/kernels.log | cut -c1-112
timeout 60 python3 benchmarks/device/sessions/sixtysecond_one_token.py 2>&1 | grep -v -i warn | tail -4
cuda_tests $((320 - SECONDS)) cuda_tests_mma.log tests/kernels/test_triton_mma.py
