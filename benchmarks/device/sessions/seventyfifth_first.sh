# Seventy-fifth session, one call (any kind, carry .device-carry/wheels, <= 570 s): seventyfourth_next.sh's capped
# AHEAD 4 timing and shipping (the kernel table only if a key won), then the op as served at 1-16 tokens
# (seventyfifth_as_served.sh's run) in the time left; its log keeps the rows timed before a cut.
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "$gpu"
timeout 300 python3 benchmarks/device/sessions/seventyfourth_ahead4_capped.py 8,16 1,4 2>&1 | grep "tokens" | cut -c1-190
case "$gpu" in
  *H100*) ship_won ahead4_capped.json kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json 150 ;;
  *H200*) ship_won ahead4_capped.json kernels/tuned/NVIDIA_H200.v8.json 150 ;;
esac
left=$((565 - SECONDS))
short=$(echo "$gpu" | awk '{print tolower($2)}')
if [ "$left" -gt 40 ]; then
  timeout "$left" python3 benchmarks/linear_as_served.py --tokens 1 4 16 8 --gpr 1 4 \
    --shapes 4096x4096 11008x4096 4096x11008 --out "$OUT/linear_as_served_$short" 2>&1 \
    | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" | tee "$OUT/linear_as_served_$short.log"
fi
