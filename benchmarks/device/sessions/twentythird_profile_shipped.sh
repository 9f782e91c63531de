# Next session (~2 min): where the shipped one-token kernel waits now. The fifteenth session's stall profile was of
# a config the op no longer ships (BN 32 x BK 512, split-K 4, gpr 4: prologue 22 %, loop 39 %, epilogue 37 % of the
# samples); the shipped 4096x4096 gpr-1 choice is BN 8 x BK 1024, no split-K, PREFETCH 1, X_VEC, HALF2 (7.9 us,
# ~4 instructions a weight at a fraction of the issue rate). benchmarks/profile_shipped.py launches the op as the
# server does; Nsight's source page gives the stall samples per SASS instruction (prologue / loop / epilogue), its
# WarpStateStats the issue rate, and LaunchStats / Occupancy the programs an SM. Then the same for 2 tokens (the
# 2-4-token kernel) and 16 x 16 tasks (the bucket kernel) for comparison.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
for spec in "1 1 _decode_prmt_kernel" "2 1 _decode_prmt_tokens_kernel" "16 16 _bucket_cols_kernel"; do
  set -- $spec
  timeout 150 $NCU -k regex:$3 --launch-skip 1 --launch-count 1 --section SourceCounters --section WarpStateStats \
    --section LaunchStats --section Occupancy --section SpeedOfLight --import-source no -f -o $OUT/shipped_m$1 \
    python3 benchmarks/profile_shipped.py --m $1 --tasks $2 2>&1 | grep -v Warn | tail -3
  $NCU -i $OUT/shipped_m$1.ncu-rep --page source --csv --print-source sass > $OUT/shipped_m$1_sass.csv 2>&1
  $NCU -i $OUT/shipped_m$1.ncu-rep --page details > $OUT/shipped_m$1_details.txt 2>&1
  grep -E "Duration|Registers|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued" $OUT/shipped_m$1_details.txt
done
