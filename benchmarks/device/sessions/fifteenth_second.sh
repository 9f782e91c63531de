# Fifteenth session, second device call (~4 min): per-instruction stall samples (Nsight Compute's source page, SASS)
# of the register-LUT kernels at 4096x4096 (one token fp32 and HALF2; 16 tokens of one task), and the late-compile
# run after the tuning plan's odd token counts per bucket tile height.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
if [ -n "$NCU" ]; then
  $NCU --version | tail -1
  timeout 240 $NCU -k regex:'_decode_prmt' --section WarpStateStats --section SourceCounters --section LaunchStats \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --import-source no -f -o $OUT/prmt \
    python3 benchmarks/bench_kernels.py --profile > $OUT/ncu_prmt_run.log 2>&1
  for i in 1 2 3; do
    $NCU -i $OUT/prmt.ncu-rep --page source --csv --print-source sass --launch-skip $((i-1)) --launch-count 1 \
      > $OUT/prmt_sass_$i.csv 2> $OUT/prmt_sass_$i.err || $NCU -i $OUT/prmt.ncu-rep --page source --csv \
      --launch-skip $((i-1)) --launch-count 1 > $OUT/prmt_sass_$i.csv 2>> $OUT/prmt_sass_$i.err
    head -c 600 $OUT/prmt_sass_$i.err
    wc -l $OUT/prmt_sass_$i.csv
  done
  $NCU -i $OUT/prmt.ncu-rep --page details > $OUT/prmt_details.txt 2>&1; grep -E "prmt|Duration" $OUT/prmt_details.txt
fi
timeout 200 python3 benchmarks/startup_compiles.py --gpr 1 --tasks 16 2>&1 | tee $OUT/startup_compiles_h200.log \
  | grep -E "compile in|compiles at|started"
