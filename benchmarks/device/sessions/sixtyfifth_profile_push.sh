# Sixty-fifth session, for the next (H100, the device's Triton 3.6, carry .device-carry/wheels and tasks; ~3 min):
# Nsight Compute on the shipped 4-token 4096x4096 choice (8 warps, split 8) and the same with PUSH, the second call of
# each (profile_shipped.py --decode-config). Question: why did PUSH lose 2.7 us (results/push_ab_h100_sixtyfifth.json)?
# Launch statistics and occupancy say how many clusters fit at once (waves); the warp states, what PUSH's warps wait
# on. -> $OUT/{shipped,push}_details.txt
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
shipped='{"AHEAD": 2, "EARLY": 1, "MODE": 5, "ROWS": 1, "SPLIT_K": 8, "WPL": 4, "num_warps": 8}'
for form in shipped push; do
  cfg=$shipped; [ $form = push ] && cfg=${shipped%\}}', "PUSH": 1}'
  timeout 120 $NCU -k regex:_decode_mma_kernel --launch-skip 1 --launch-count 1 --section LaunchStats \
    --section Occupancy --section SpeedOfLight --section WarpStateStats --section SchedulerStats -f -o $OUT/$form \
    python3 benchmarks/profile_shipped.py --m 4 --decode-config "$cfg" 2>&1 | grep -v Warn | tail -2
  $NCU -i $OUT/$form.ncu-rep --page details > $OUT/${form}_details.txt 2>&1
  echo "== $form"
  grep -E "Duration|Registers Per|Cluster|Waves Per SM|Achieved Occupancy|Theoretical Occupancy|Block Limit|Stall|Memory Throughput" \
    $OUT/${form}_details.txt | head -30
done
