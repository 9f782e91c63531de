# Fifty-third session's fourth call (H100; carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]
# on a fresh machine): bash benchmarks/device/sessions/fiftythird_c.sh
# XSTAGE's x copies changed after its first timing (8-22x slower at one token, 2.4-3.6x at 16): through L1 (.ca) and
# reading nothing for token rows past M (zeros). 1. The op's candidates and the staged-x entries at 4096x4096, gpr 1,
# 1 and 16 tokens (each checked against the reference): $OUT/pairs_grid_gpr1.{json,log}. 2. The kernel's CUDA tests
# (five XSTAGE cases among them: odd M, split-K, bf16): $OUT/cuda_tests_pairs.log.
nvidia-smi --query-gpu=name --format=csv,noheader
GRID_S=280 BUDGET=200 LISTS=candidates,staged_x bash benchmarks/device/sessions/fortyninth_pairs.sh 1 4096x4096
grep "XSTAGE': 1" $OUT/pairs_grid_gpr1.log | head -20
TESTS_S=240 bash benchmarks/device/sessions/fortyninth_pairs.sh tests
