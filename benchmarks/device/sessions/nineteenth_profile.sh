# Nineteenth session (~4 min): where the fragment kernel waits at 16 tokens of one task (4096x4096 gpr 1: 16.5 us
# against an issue-bound estimate near 2 us; PRELOAD showed its chunk loop's serial loads are not the bound), and
# PRELOAD over 4 tasks. Nsight Compute's warp states and source page (SASS) of the three launches that
# bench_kernels.py --profile makes of _decode_mma_kernel.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || { echo "no ncu"; exit 0; }
timeout 240 $NCU -k regex:'_decode_mma' --section WarpStateStats --section SourceCounters --section LaunchStats \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --import-source no -f -o $OUT/mma \
  python3 benchmarks/bench_kernels.py --profile > $OUT/ncu_mma_run.log 2>&1
for i in 1 2 3; do
  $NCU -i $OUT/mma.ncu-rep --page source --csv --print-source sass --launch-skip $((i-1)) --launch-count 1 \
    > $OUT/mma_sass_$i.csv 2> $OUT/mma_sass_$i.err
  wc -l $OUT/mma_sass_$i.csv
done
$NCU -i $OUT/mma.ncu-rep --page details > $OUT/mma_details.txt 2>&1
grep -E "Duration|Registers|Achieved Occupancy|Memory Throughput|Stall" $OUT/mma_details.txt | head -40
