# Sixty-third session, last call (~7 min, H100, Triton 3.6, carry .device-carry): the fragment kernel's CUDA tests
# after X_FIRST's removal, then the kernel table's one-task decode rows (1, 4, 8, 16 tokens; the op told the batch's
# one task, as the engine tells it) with the shipped H100 choices (EARLY on six keys, the 8-token keys, BN 4 at one
# token on 4096x4096 gpr 1); the one-token BN comparison a third time (its loop now bench_kernels.layers).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py 2>&1 \
  | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -2 | tee $OUT/cuda_tests_mma.log
SKETCHSERVE_CACHE=/root/empty_cache timeout 300 python3 benchmarks/bench_kernels.py --out $OUT --phases decode \
  --decode-cases 1:1,4:1,8:1,16:1 --tell-tasks 2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" \
  > $OUT/kernels.log
grep -E "T= 1:" $OUT/kernels.log | cut -c1-112
timeout 120 python3 benchmarks/device/sessions/sixtysecond_one_token.py 2>&1 | grep -v -i warn | tail -4
