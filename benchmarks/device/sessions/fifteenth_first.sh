# Written in the fourteenth session for the next one's first device call (~4 min): Nsight Compute on the one-token
# kernel with and without fp16 products (what the HALF2 kernel waits on: the split-K epilogue, or the slot -> LUT ->
# codes chain), then the late-compile run with every bucket launch at M not a multiple of 16 logged (the batch-24
# compile the start does not cover).
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
if [ -n "$NCU" ]; then
  timeout 200 $NCU -k regex:'_decode_prmt_kernel' --section SpeedOfLight --section Occupancy --section WarpStateStats \
    --section SourceCounters --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
    python3 benchmarks/bench_kernels.py --profile 2>&1 | tee $OUT/ncu_one_token_half2.log | grep -E "Duration|stalled_(long|barrier|wait|math|short)" | head -20
fi
timeout 200 python3 benchmarks/startup_compiles.py --gpr 1 --tasks 16 2>&1 | tee $OUT/startup_compiles_bucket_launches_h200.log \
  | grep -E "compile in|bucket launch|compiles at"
