# Twenty-seventh session, third call (~4 min): the register-LUT prefill kernel's stalls, and 16-warp configs.
# Second call: its best (256x128x64, 8 warps, weight as the left operand) ran at 27.6 % issue slots and 52 % tensor
# pipe under Nsight, one CTA of 8 warps an SM (254 registers): latency-bound. Its sm_90 SASS converts each
# dequantized tile to the wgmma register layout through shared memory in two halves, 5 CTA barriers a K step. Here:
# (1) the stall reasons per SASS line (ncu source page, summarized by benchmarks/ncu_sass_summary.py) of that config
# and of the 16-warp one with the tile as the B operand (4 warpgroups share it in shared memory; 121 registers);
# (2) prefill_grid.py's third round (16 warps) on 4096x4096 at 2,048 tokens, 1 and 8 tasks.
# Prediction: barrier and wgmma-wait stalls lead in the 8-warp profile; 16 warps hide part of them: ~125-135 us.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
for name in w8_left w16_right; do
  if [ $name = w8_left ]; then W=8; L=1; else W=16; L=0; fi
  CFG="{\"PRMT\": 1, \"BLOCK_M\": 256, \"BLOCK_N\": 128, \"BLOCK_K\": 64, \"num_warps\": $W, \"num_stages\": 3, \"W_LEFT\": $L}"
  timeout 120 $NCU -k regex:_prefill_prmt_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \
    --section WarpStateStats --section SpeedOfLight --section ComputeWorkloadAnalysis --import-source no -f \
    -o /tmp/p_$name python3 benchmarks/profile_shipped.py --m 2048 --tasks 1 --prefill-config "$CFG" >/dev/null 2>&1
  $NCU -i /tmp/p_$name.ncu-rep --page source --csv --print-source sass > /tmp/p_${name}_sass.csv 2>&1
  $NCU -i /tmp/p_$name.ncu-rep --page details > /tmp/p_${name}_details.txt 2>&1
  { grep -E "Duration|Issue Slots Busy|Warp Cycles Per Issued|Compute \(SM\) Th|Registers Per" /tmp/p_${name}_details.txt
    python3 benchmarks/ncu_sass_summary.py /tmp/p_${name}_sass.csv --top 40; } > $OUT/ncu_prefill_prmt_${name}_twentyseventh.log
  head -8 $OUT/ncu_prefill_prmt_${name}_twentyseventh.log; echo "== ncu $name ($SECONDS s)"
done
timeout $((560 - SECONDS)) python3 benchmarks/prefill_grid.py --out $OUT --gpr 1 --shapes 4096x4096 \
  --cases "x 2048,x 256" --grid-from 21 --budget-s 150 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr1_third_twentyseventh.log
grep "^prmt\|best\|budget\|WRONG\|failed" $OUT/prefill_grid_gpr1_third_twentyseventh.log; echo "== grid ($SECONDS s)"
