# One device call (~2 min): Nsight Compute on single launches of the decode kernels at 4096x4096
# (bench_kernels.py --profile): speed of light, memory and warp-state sections, the stall reasons behind
# the one-token kernel's latency bound.
source benchmarks/device/prep.sh
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: ${NCU:-none}"
[ -n "$NCU" ] || exit 3
timeout 400 $NCU -k regex:'_decode' --section SpeedOfLight --section MemoryWorkloadAnalysis \
  --section WarpStateStats --section LaunchStats --section Occupancy --section SchedulerStats \
  python3 benchmarks/bench_kernels.py --profile 2>&1 | tee $OUT/ncu_decode.log | grep -v "^==PROF==" | tail -150
