# Sixteenth session, fourth device call (~6 min): Nsight's warp states and source page of the fragment bucket kernel
# (ROWS 4: 44.5 us at 4096^2 16 x 16, issue-bound prediction ~11 us: where do its warps wait?), then serving with the
# v7 choices (X_VEC among the one-token candidates; the one-token shapes tune at the start, the caches come back for
# kernels/tuned/).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
timeout 150 $NCU -k regex:'_bucket_frag' -c 1 --section WarpStateStats --section SourceCounters --section ComputeWorkloadAnalysis \
  --section SpeedOfLight --section Occupancy --import-source no -o /tmp/frag python3 benchmarks/bench_kernels.py --profile 2>&1 | tail -2
$NCU -i /tmp/frag.ncu-rep --page details > $OUT/ncu_bucket_frag_h200.log 2>&1
$NCU -i /tmp/frag.ncu-rep --page source --csv --print-source sass > $OUT/source_bucket_frag.csv 2>&1
grep -E "Stall|Issue|Pipe|Occupancy|Registers|Duration|Throughput|Warp Cycles" $OUT/ncu_bucket_frag_h200.log | head -40
export SKETCHSERVE_CACHE=$OUT/cache
for gpr in 1 4; do
  timeout 150 python3 benchmarks/bench_serving.py --gpr $gpr --batches 1 16 --tasks 1 16 --new-tokens 32 \
    --out $OUT/gpr$gpr 2>&1 | tee $OUT/serving_h200_sixteenth_gpr$gpr.log | grep -E "tok/s|tun" | sed -n 1,6p
done
