# Seventy-seventh session (no machine came: failed starts, then loans paused), for the next session's first call on
# either kind, within $1 seconds (default 560), most useful first, each item cut to what is left:
# - on an H100: the chain before the first chunk (linear_as_served.py --warm, gpr 1 on the two 4096-column shapes:
#   ours cold, slots in L2, slots and LUT in L2), a few tokens each of its own task (seventysixth_tokens_apart.py),
#   then the 6 GPU-marked fragment tests the seventy-sixth session's cut left;
# - on an H200: seventysixth_third.sh (the kernel table's prefill rows with CODES_TMA, then the PDL and forward tests).
# -> $OUT/chain_share_h100.{json,log,png}, $OUT/tokens_apart.json + tokens_apart_h100.log, $OUT/cuda_tests_*.log (H100)
source benchmarks/device/prep.sh >/dev/null
end=$(($(date +%s) + ${1:-560}))
left() { # seconds left, less a margin for the results to come back, at most $1
  local s=$((end - $(date +%s) - 10))
  echo $((s < $1 ? (s > 1 ? s : 1) : $1))
}
quiet() { grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks"; }
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | awk '{print tolower($2)}')
echo "$gpu"
if [ "$gpu" = h200 ]; then
  bash benchmarks/device/sessions/seventysixth_third.sh 2>&1 | tail -30
  exit
fi
timeout "$(left 200)" python3 benchmarks/linear_as_served.py --warm --tokens 1 4 16 --gpr 1 \
  --shapes 4096x4096 11008x4096 --out "$OUT/chain_share_h100" 2>&1 | quiet | tee "$OUT/chain_share_h100.log"
timeout "$(left 200)" python3 benchmarks/device/sessions/seventysixth_tokens_apart.py 2>&1 | quiet \
  | tee "$OUT/tokens_apart_h100.log"
cuda_tests "$(left 300)" cuda_tests_fragment_rest_h100.log -m gpu tests/kernels/test_triton_mma.py \
  -k "every_fragment_candidate or early_start"
