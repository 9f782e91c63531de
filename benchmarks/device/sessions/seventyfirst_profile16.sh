# Seventy-first session (H100, the device's Triton 3.6, ~3 min): Nsight Compute on the fragment kernel's KW 8 choice
# (8 warps in 8 parts, WPL 4, AHEAD 2, EARLY, W16) at 4 tokens (one token tile) and at 16 (two tiles: twice the
# MMAs and x loads a word), 4096x4096 gpr 1, as the op launches it (profile_shipped.py). Question: where the 16-token
# kernel's extra ~3 us go (11.6 against 8.6 us in turns). -> $OUT/ncu_kw8_m{4,16}.txt
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for m in 4 16; do
  timeout 180 $NCU -k regex:_decode_mma_kernel --launch-skip 1 --launch-count 1 --section SpeedOfLight \
    --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section Occupancy \
    --section LaunchStats --section InstructionStats python3 benchmarks/profile_shipped.py --m $m > $OUT/ncu_kw8_m$m.txt 2>&1
  grep -E "Duration|Registers Per|Executed Ipc A|Issue Slots Busy|Memory Throughput|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Warp Cycles Per Issued|Achieved Active Warps|Executed Instructions  " $OUT/ncu_kw8_m$m.txt | head -20
done
