# Twenty-seventh session, second call (~6 min): where the register-LUT prefill kernel's best config waits, and the
# grid's second round. First round (twentyseventh_prefill_grid.sh): 256x128x64 / 8 warps / 3 stages, weight as the
# MMA's left operand, 146.7 us at 2,048 tokens on 4096x4096 (cuBLAS 90.9, generic 246.6), flat in the task count.
# Nsight on it (one task, tokens sorted, profile_shipped.py --prefill-config): issue rate, stall reasons per SASS
# instruction, tensor pipe share. Then prefill_grid.py with the second round's configs: gpr 1 on 4096x4096, gpr 4
# on every shape. Prediction: the profile shows the wgmma wait (the MMA not overlapped with the next tile's
# dequantization) and the smem round trip of the weight tile as the top stalls; tensor pipe ~60 %.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
CFG='{"PRMT": 1, "BLOCK_M": 256, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 3, "W_LEFT": 1}'
timeout 200 $NCU -k regex:_prefill_prmt_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \
  --section WarpStateStats --section LaunchStats --section Occupancy --section SpeedOfLight \
  --section ComputeWorkloadAnalysis --import-source no -f -o $OUT/prefill_prmt_t1 \
  python3 benchmarks/profile_shipped.py --m 2048 --tasks 1 --prefill-config "$CFG" 2>&1 | grep -v Warn | tail -3
$NCU -i $OUT/prefill_prmt_t1.ncu-rep --page source --csv --print-source sass > $OUT/prefill_prmt_t1_sass.csv 2>&1
$NCU -i $OUT/prefill_prmt_t1.ncu-rep --page details > $OUT/prefill_prmt_t1_details.txt 2>&1
grep -E "Duration|Registers Per|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|Compute \(SM\) Th|Memory Th|Tensor" \
  $OUT/prefill_prmt_t1_details.txt | head -12; echo "== ncu ($SECONDS s)"
timeout 150 python3 benchmarks/prefill_grid.py --out $OUT --gpr 1 --shapes 4096x4096 --cases "x 2048,x 256" \
  --budget-s 120 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr1_second_twentyseventh.log
grep "^prmt\|best\|budget\|WRONG\|failed" $OUT/prefill_grid_gpr1_second_twentyseventh.log; echo "== grid gpr1 ($SECONDS s)"
mv $OUT/prefill_grid_gpr1.json $OUT/prefill_grid_gpr1_second.json; mv $OUT/prefill_grid_gpr1.png $OUT/prefill_grid_gpr1_second.png
timeout $((580 - SECONDS)) python3 benchmarks/prefill_grid.py --out $OUT --gpr 4 --cases "x 2048,x 256" \
  --budget-s 100 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr4_twentyseventh.log
grep "cuBLAS\|best\|budget\|WRONG\|failed" $OUT/prefill_grid_gpr4_twentyseventh.log; echo "== grid gpr4 ($SECONDS s)"
