# Fifty-third session's plan for the next H100 (or H200), one call of up to 600 s; carry only
# [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"] (with the 21 MB tree, ~65 MB of the 64 MiB: the
# wheels no longer fit beside them, and none of the three steps imports the server):
#   bash benchmarks/device/sessions/fiftythird.sh
# In the order of what each answers, since a machine may go before the call ends ($OUT's files come back anyway):
# 1. the pair kernel's grid at 4096x4096, gpr 1, 1 and 16 tokens (the op's candidates first, XSTAGE and the 8-step
#    rings among them: the fifty-second session's predictions): $OUT/pairs_grid_gpr1.{log,json};
# 2. its CUDA tests under Triton 3.9 (the STAGES, WK 8 / 16 and XSTAGE cases): $OUT/cuda_tests_pairs.log;
# 3. read_floor.py (a codes-only reader in the kernel table's harness) under the device's Triton 3.6: $OUT/read_floor.*
nvidia-smi --query-gpu=name --format=csv,noheader
GRID_S=200 bash benchmarks/device/sessions/fortyninth_pairs.sh 1 4096x4096
TESTS_S=200 bash benchmarks/device/sessions/fortyninth_pairs.sh tests
(source benchmarks/device/prep.sh >/dev/null
 timeout 110 python3 benchmarks/read_floor.py --out $OUT 2>&1 | grep -v "Warn\|warn_once" > $OUT/read_floor.log
 tail -12 $OUT/read_floor.log)
