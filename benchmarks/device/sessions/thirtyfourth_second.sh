# Thirty-fourth session, second call (~2 min): wgmma's rate at n16 (A in shared memory: the pipe's; A in registers,
# one in flight or each waited: what a WIDE wgmma kernel gets), and Nsight on the PROBE form of the shipped 4096x4096
# gpr 1 choice (no one-hots: 21.7 us against 13.3 at mma.sync's rate; where the other ~8 us go).
source benchmarks/device/prep.sh >/dev/null
timeout 120 python3 benchmarks/mma_rate.py --wgmma 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/wgmma_rate_thirtyfourth.log
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
CFG='{"LAYOUT":"wgmma","BLOCK_M":16,"ROWS":16,"BLOCK_K":256,"num_warps":2,"num_stages":2,"SPLIT_K":4,"MMA_V2":1,"WIDE":1,"PROBE":1}'
for probe in 1 0; do
  C=$(echo "$CFG" | sed "s/\"PROBE\":1/\"PROBE\":$probe/")
  timeout 110 $NCU -k regex:_bucket_wgmma_kernel --launch-skip 2 --launch-count 1 --section WarpStateStats \
    --section LaunchStats --section Occupancy --section SpeedOfLight --section ComputeWorkloadAnalysis \
    --section InstructionStats --section MemoryWorkloadAnalysis --import-source no -f -o $OUT/p$probe \
    python3 benchmarks/device/sessions/thirtyfirst_profile_bucket.py --config "$C" 2>&1 | grep -v Warn | tail -1
  $NCU -i $OUT/p$probe.ncu-rep --page details > $OUT/ncu_probe${probe}_details_thirtyfourth.txt 2>&1
  echo "== PROBE $probe"
  grep -E "Duration|Registers Per|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|Stall|stall|Pipe|Elapsed Cycles|SM Active" \
    $OUT/ncu_probe${probe}_details_thirtyfourth.txt | head -30
  rm -f $OUT/p$probe.ncu-rep
done
