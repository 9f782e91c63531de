# One device call (~1 min): why the register-LUT decode kernels and the bucket-sum kernel wait (the launches of
# bench_kernels.py --profile): stall reasons per issued instruction, occupancy, instruction counts, hot spots.
source benchmarks/device/prep.sh
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 300 $NCU -k regex:'_decode_prmt|_bucket' --section SpeedOfLight --section Occupancy --section ComputeWorkloadAnalysis --section InstructionStats \
  --section SourceCounters \
  --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio',sm__inst_executed.sum,smsp__cycles_active.avg,sm__cycles_elapsed.avg \
  python3 benchmarks/bench_kernels.py --profile 2>&1 | tee $OUT/ncu_stalls.log | tail -3  # read the log
