# Seventeenth session (~3 min): the bucket-sum kernel at gpr 1 / 2 / 4 with one config (why gpr 4 costs 43 % more at
# 4096x4096, 16 x 16), then Nsight Compute on one launch each of gpr 1 and 4: speed of light, memory, warp states, and
# the SASS source page (where the warps wait).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 120 python3 benchmarks/bucket_gpr.py 2>&1 | tee $OUT/bucket_gpr_h200.log
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
timeout 200 $NCU -k regex:'_bucket_cols' -c 2 --section SpeedOfLight --section MemoryWorkloadAnalysis \
  --section WarpStateStats --section SourceCounters --section LaunchStats --section Occupancy --import-source no \
  -o /tmp/gpr python3 benchmarks/bucket_gpr.py --once 2>&1 | tail -2
$NCU -i /tmp/gpr.ncu-rep --page details > $OUT/ncu_bucket_gpr_h200.log 2>&1
$NCU -i /tmp/gpr.ncu-rep --page source --csv --print-source sass > $OUT/source_bucket_gpr.csv 2>&1
grep -E "Duration|Memory Throughput|DRAM Throughput|L1/TEX Hit|L2 Hit|Registers|Stall|Warp Cycles|Issued" $OUT/ncu_bucket_gpr_h200.log | head -60
