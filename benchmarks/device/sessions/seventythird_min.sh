# The seventy-third session's last-chance call (~2.5 min; failed starts had taken 5/6 of the budget): AHEAD 4
# against every shipped AHEAD 2 / 3 one-task choice at 4 tokens (each config checked against the reference),
# then its GPU tests in what time is left -> $OUT/ahead4.json, cuda_tests_ahead4.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
timeout 110 python3 benchmarks/device/sessions/seventythird_ahead4.py 4 2>&1 | grep "tokens" | cut -c1-150
ids=$(python3 -m pytest --collect-only -q tests/kernels/test_triton_mma.py 2>/dev/null \
  | grep -E 'ahead_match.*\[dtype0-4-|-3072-|early_start_matches.*\[4-|ahead_4_unrolls')
cuda_tests $((140 - SECONDS)) cuda_tests_ahead4.log $ids
