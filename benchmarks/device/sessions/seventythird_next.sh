# Written in the seventy-third session for its device call (one call, any kind; ~7 min):
# 1. AHEAD 4's GPU tests (the unrolled ring against the reference: 7 chunks, 3 chunks a KW part, EARLY; and its sm_90
#    SASS) -> $OUT/cuda_tests_ahead4.log
# 2. AHEAD 4 against every shipped AHEAD 2 / 3 one-task choice at 4 tokens (seventythird_ahead4.py) -> ahead4.json
# 3. the seventy-second session's host plan: its tests compiled on this GPU and its timing (seventysecond_host_plan.py
#    quick) -> cuda_tests_host_plan.log, host_plan.log / .json
# 4. AHEAD 4 at 8 and 16 tokens in what time is left -> ahead4_8_16.json
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
ids=$(python3 -m pytest --collect-only -q tests/kernels/test_triton_mma.py 2>/dev/null \
  | grep -E 'ahead_match.*\[dtype[01]-4-|-3072-|early_start_matches.*\[4-|ahead_4_unrolls')
cuda_tests 110 cuda_tests_ahead4.log $ids
timeout 130 python3 benchmarks/device/sessions/seventythird_ahead4.py 4 2>&1 | grep "tokens" | cut -c1-150
cuda_tests 60 cuda_tests_host_plan.log tests/kernels/test_prefill_tiles.py tests/kernels/test_reference.py -k "not sm90"
timeout 130 python3 benchmarks/device/sessions/seventysecond_host_plan.py quick > $OUT/host_plan.log 2>&1
grep -c '"M"' $OUT/host_plan.log
mv $OUT/ahead4.json $OUT/ahead4_4.json 2>/dev/null
timeout $((440 - SECONDS)) python3 benchmarks/device/sessions/seventythird_ahead4.py 8,16 2>&1 | grep "tokens" \
  | cut -c1-150
