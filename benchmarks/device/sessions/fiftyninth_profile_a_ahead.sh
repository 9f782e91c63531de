# Fifty-ninth session (H100, Triton 3.6, nothing carried, ~4 min): Nsight Compute on the shipped prefill tile and its
# A_AHEAD twin (fiftyninth_profile_a_ahead.py): launches 2 and 4 of the kernel (each config's second). Question: why
# did looking the next tile up during the own MMA lose (123.8 against 116.2 us)? If the lookups are bound by an issue
# pipe or by the register file, not by latency, the two warpgroups' lookups cannot overlap and the turns were
# already the best order. -> $OUT/{shipped,ahead}_{details.txt,sass.csv}
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 300 $NCU -k regex:_prefill_wgmma_tma_kernel --launch-skip 1 --launch-count 3 --section SourceCounters \
  --section WarpStateStats --section LaunchStats --section SpeedOfLight --section ComputeWorkloadAnalysis \
  --section InstructionStats --import-source no -f -o $OUT/prof \
  python3 benchmarks/device/sessions/fiftyninth_profile_a_ahead.py 2>&1 | grep -v Warn | tail -4
$NCU -i $OUT/prof.ncu-rep --page details > $OUT/details.txt 2>&1
$NCU -i $OUT/prof.ncu-rep --page source --csv --print-source sass > $OUT/sass.csv 2>&1
grep -E "Duration|Registers Per|Issue Slots Busy|Warp Cycles Per Issued|Issued Ipc|Executed Ipc A|Compute \(SM\)|Stall|Pipe" \
  $OUT/details.txt | head -60
ls -la $OUT
