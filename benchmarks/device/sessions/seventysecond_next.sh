# Written in the seventy-second session for the next device call (one call, any kind; ~5-8 min), so that one start
# serves all that session left untimed:
# 1. the host plan's tests compiled on this GPU (test_prefill_tiles.py, test_reference.py; so far interpreted only)
#    -> $OUT/cuda_tests_host_plan.log
# 2. the shipped host plan timed on two layers (seventysecond_host_plan.py quick: fused, planned, segments given,
#    cuBLAS; eager) -> $OUT/host_plan.json, host_plan.log
# 3. on an H200 only: its 16-token keys re-tuned (seventyfirst_retune16.py 16) and the two-block KW forms that won
#    on the H100's 11008x4096 (seventyfirst_rows2_kw16.py) -> $OUT/retune_16_h200_next.json, rows2_kw.json
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "$gpu"
cuda_tests 120 cuda_tests_host_plan.log tests/kernels/test_prefill_tiles.py tests/kernels/test_reference.py -k "not sm90"
timeout 170 python3 benchmarks/device/sessions/seventysecond_host_plan.py quick > $OUT/host_plan.log 2>&1
grep -c '"M"' $OUT/host_plan.log
if [[ "$gpu" == *H200* ]]; then
  timeout 200 python3 benchmarks/device/sessions/seventyfirst_retune16.py 16 h200_next 2>&1 | grep "tokens" | cut -c1-140
  timeout $((570 - SECONDS)) python3 benchmarks/device/sessions/seventyfirst_rows2_kw16.py 2>&1 | grep "tokens" \
    | cut -c1-140
fi
