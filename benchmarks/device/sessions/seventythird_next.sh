# Written in the seventy-third session for the next device call (one call, any kind; ~7 min), what that session's
# one short call (seventythird_min.sh) had no time for:
# 1. the seventy-second session's host plan timed in its final form (seventysecond_host_plan.py quick)
#    -> $OUT/host_plan.log / .json
# 2. its tests compiled on this GPU (so far interpreted only) -> cuda_tests_host_plan.log
# 3. AHEAD 4 against every shipped AHEAD 2 / 3 one-task choice at 8 and 16 tokens (seventythird_ahead4.py)
#    -> ahead4.json; ship_won it into this machine's copy of the shipped file and, if any won, the kernel table
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "$gpu"
timeout 130 python3 benchmarks/device/sessions/seventysecond_host_plan.py quick > $OUT/host_plan.log 2>&1
grep -c '"M"' $OUT/host_plan.log
cuda_tests 100 cuda_tests_host_plan.log tests/kernels/test_prefill_tiles.py tests/kernels/test_reference.py -k "not sm90"
timeout 200 python3 benchmarks/device/sessions/seventythird_ahead4.py 8,16 2>&1 | grep "tokens" | cut -c1-150
case "$gpu" in
  *H100*) ship_won ahead4.json kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json $((570 - SECONDS)) ;;
  *H200*) ship_won ahead4.json kernels/tuned/NVIDIA_H200.v8.json $((570 - SECONDS)) ;;
esac
