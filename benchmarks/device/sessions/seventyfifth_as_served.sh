# Seventy-fifth session (one call, any kind; ~3 min): the one-task op as a decode step runs it (after the fused
# RMSNorm, graph, PDL on and off) against cuBLAS alone and after the norm, at 1-16 tokens on the three
# shapes, gpr 1 and 4, with this machine's shipped choices, within $1 seconds (default 420)
# -> $OUT/linear_as_served_<gpu>.{json,png,log}; the log keeps the rows timed before a cut
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | awk '{print tolower($2)}')
timeout "${1:-420}" python3 benchmarks/linear_as_served.py --tokens 1 4 16 8 --gpr 1 4 \
  --shapes 4096x4096 11008x4096 4096x11008 --out "$OUT/linear_as_served_$gpu" 2>&1 \
  | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" | tee "$OUT/linear_as_served_$gpu.log"
