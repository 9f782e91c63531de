# Seventy-sixth session, for the next H100 (one call, ~4 min): what the one-task op's chain before its first chunk
# costs in DRAM round trips: linear_as_served.py --warm times ours (PDL off) cold, with the slots in L2 (as in a
# step, where every projection before reads them) and with the slots and the task's LUT rows in L2, at 1, 4 and 16
# tokens on the three shapes, gpr 1 and 4, within $1 seconds (default 420)
# -> $OUT/chain_share_<gpu>.{json,png,log}
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | awk '{print tolower($2)}')
timeout "${1:-420}" python3 benchmarks/linear_as_served.py --warm --tokens 1 4 16 --gpr 1 4 \
  --shapes 4096x4096 11008x4096 4096x11008 --out "$OUT/chain_share_$gpu" 2>&1 \
  | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" | tee "$OUT/chain_share_$gpu.log"
