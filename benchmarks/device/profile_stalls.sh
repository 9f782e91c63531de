# One device call (~1 min): why the register-LUT decode kernels wait (bench_kernels.py --profile launches):
# per-instruction stall reasons, instruction counts by pipe, and the compute workload section.
source benchmarks/device/prep.sh
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 300 $NCU -k regex:'_decode_prmt' --section ComputeWorkloadAnalysis --section InstructionStats \
  --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio',sm__inst_executed.sum,smsp__cycles_active.avg,sm__cycles_elapsed.avg \
  python3 benchmarks/bench_kernels.py --profile 2>&1 | tee $OUT/ncu_stalls.log | grep -v "^==PROF==" | tail -120
