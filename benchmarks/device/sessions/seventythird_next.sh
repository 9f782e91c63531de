# Written in the seventy-third session for its device call (one call, any kind; ~5.5 min; failed starts had taken
# two thirds of the budget):
# 1. AHEAD 4's GPU tests (the unrolled ring against the reference: 7 chunks, 3 chunks a KW part, EARLY; and its sm_90
#    SASS) -> $OUT/cuda_tests_ahead4.log
# 2. AHEAD 4 against every shipped AHEAD 2 / 3 one-task choice at 4 tokens (seventythird_ahead4.py) -> ahead4.json
# 3. the seventy-second session's host plan timed (seventysecond_host_plan.py quick) -> host_plan.log / .json
# (left for a later call: the host plan's tests compiled on a GPU; AHEAD 4 at 8 and 16 tokens: seventythird_ahead4.py
# 8,16)
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
ids=$(python3 -m pytest --collect-only -q tests/kernels/test_triton_mma.py 2>/dev/null \
  | grep -E 'ahead_match.*\[dtype0-4-|-3072-|early_start_matches.*\[4-|ahead_4_unrolls')
cuda_tests 90 cuda_tests_ahead4.log $ids
timeout 120 python3 benchmarks/device/sessions/seventythird_ahead4.py 4 2>&1 | grep "tokens" | cut -c1-150
timeout $((325 - SECONDS)) python3 benchmarks/device/sessions/seventysecond_host_plan.py quick > $OUT/host_plan.log 2>&1
grep -c '"M"' $OUT/host_plan.log
