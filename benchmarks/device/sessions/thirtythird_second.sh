# Thirty-third session, second call (~1 min on a warm machine):
# where the WIDE form waits (Nsight on BLOCK_K 128, the 4096x4096 gpr 1 choice of the thirty-second session); the WIDE
# grid at 16 x 16, gpr 1 (BLOCK_K 256 and PRMT against the rest, in one run).
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
CFG='{"LAYOUT":"wgmma","BLOCK_M":16,"ROWS":16,"BLOCK_K":128,"num_warps":2,"num_stages":4,"SPLIT_K":4,"MMA_V2":1,"WIDE":1}'
timeout 110 $NCU -k regex:_bucket_wgmma_kernel --launch-skip 2 --launch-count 1 --section SourceCounters \
  --section WarpStateStats --section LaunchStats --section Occupancy --section SpeedOfLight \
  --section ComputeWorkloadAnalysis --section InstructionStats --import-source no -f -o $OUT/wide \
  python3 benchmarks/device/sessions/thirtyfirst_profile_bucket.py --config "$CFG" 2>&1 | grep -v Warn | tail -2
$NCU -i $OUT/wide.ncu-rep --page source --csv --print-source sass > $OUT/wide_sass.csv 2>&1
$NCU -i $OUT/wide.ncu-rep --page details > $OUT/wide_details.txt 2>&1
grep -E "Duration|Registers|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|Compute \(SM\)|Pipe|Stall|stall" \
  $OUT/wide_details.txt | head -40
rm -f $OUT/wide.ncu-rep
timeout 130 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --wide --gpr 1 --cases 16x16 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/bucket_wide_prmt_grid_gpr1_thirtythird.log | grep -v "best MMA" | cut -c1-150
