# Sixtieth session (H100, Triton 3.6, nothing carried, ~3 min): Nsight Compute on one task's decode kernels at
# 4096x4096, gpr 1 (sixtieth_profile_decode.py): the one-token register-LUT kernel, the fragment kernel at 4 tokens,
# the wgmma split-K kernel at 4 and 16 tokens, each config's second launch. Question: where do the multi-token
# kernels' extra 4-5 us over the one-token kernel go (DRAM throughput, L2 throughput, occupancy, stalls)?
#   -> $OUT/details.txt, $OUT/prof.ncu-rep
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 300 $NCU -k 'regex:_decode_prmt_kernel|_decode_mma_kernel|_prefill_wgmma_tma_kernel' --section SpeedOfLight \
  --section MemoryWorkloadAnalysis --section WarpStateStats --section LaunchStats --section Occupancy \
  --section SchedulerStats -f -o $OUT/prof python3 benchmarks/device/sessions/sixtieth_profile_decode.py 2>&1 \
  | grep -v Warn | tail -3
$NCU -i $OUT/prof.ncu-rep --page details > $OUT/details.txt 2>&1
grep -E "^  _|Duration|DRAM Throughput|L2 Cache Throughput|Memory Throughput|Achieved Occupancy|Grid Size|Block Size|Registers Per|Issued Warp Per|No Eligible|Active Warps Per|Warp Cycles Per Issued|L1/TEX Hit|L2 Hit" \
  $OUT/details.txt | head -120
