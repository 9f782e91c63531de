# Thirty-first session (~2 min): where the bucket kernel's mma.sync form waits at 16 tokens over 16 tasks (46 us on
# 4096x4096 against the shipped cols kernel's 31; the wgmma form 49): Nsight's warp states, issue rate, occupancy and
# the stall samples per SASS instruction.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 200 $NCU -k regex:_bucket_wgmma_kernel --launch-skip 2 --launch-count 1 --section SourceCounters \
  --section WarpStateStats --section LaunchStats --section Occupancy --section SpeedOfLight --import-source no -f \
  -o $OUT/bucket_v2 python3 benchmarks/device/sessions/thirtyfirst_profile_bucket.py 2>&1 | grep -v Warn | tail -2
$NCU -i $OUT/bucket_v2.ncu-rep --page source --csv --print-source sass > $OUT/bucket_v2_sass.csv 2>&1
$NCU -i $OUT/bucket_v2.ncu-rep --page details > $OUT/bucket_v2_details.txt 2>&1
grep -E "Duration|Registers|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|Compute \(SM\)|Memory Through|Stall|stall" \
  $OUT/bucket_v2_details.txt | head -30
rm -f $OUT/bucket_v2.ncu-rep
