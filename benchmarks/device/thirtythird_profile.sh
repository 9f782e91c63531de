# Thirty-third session (~3 min): where the WIDE form waits at 16 tokens over 16 tasks (BLOCK_K 128, the shipped
# 4096x4096 gpr 1 choice: 26.4 us against a ~12-13 us mma.sync floor): Nsight's warp states, pipe utilisation, issue
# rate and the stall samples per SASS instruction; then the WIDE grid with the BLOCK_K 256 candidates (gpr 1 and 4).
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
CFG='{"LAYOUT":"wgmma","BLOCK_M":16,"ROWS":16,"BLOCK_K":128,"num_warps":2,"num_stages":4,"SPLIT_K":4,"MMA_V2":1,"WIDE":1}'
timeout 150 $NCU -k regex:_bucket_wgmma_kernel --launch-skip 2 --launch-count 1 --section SourceCounters \
  --section WarpStateStats --section LaunchStats --section Occupancy --section SpeedOfLight \
  --section ComputeWorkloadAnalysis --section InstructionStats --import-source no -f -o $OUT/wide \
  python3 benchmarks/device/thirtyfirst_profile_bucket.py --config "$CFG" 2>&1 | grep -v Warn | tail -2
$NCU -i $OUT/wide.ncu-rep --page source --csv --print-source sass > $OUT/wide_sass.csv 2>&1
$NCU -i $OUT/wide.ncu-rep --page details > $OUT/wide_details.txt 2>&1
grep -E "Duration|Registers|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|Compute \(SM\)|Pipe|Stall|stall" \
  $OUT/wide_details.txt | head -40
rm -f $OUT/wide.ncu-rep
for g in 1 4; do
  timeout 120 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --wide --gpr $g --cases 16x16 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/bucket_wide_bk256_grid_gpr${g}_thirtythird.log | grep -v "best MMA" | cut -c1-150
done
