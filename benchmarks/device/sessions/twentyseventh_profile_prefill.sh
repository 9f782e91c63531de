# Next session (~3 min): where the fused prefill kernel waits. At 2,048 tokens on 4096x4096 it takes ~244 us whatever
# the task count, 2.3x the dense path's 106 us at one task (twenty-sixth session, results/prefill_tasks_2048_gpr1_
# twentysixth.log): ~280 TFLOP/s against cuBLAS's ~720. benchmarks/profile_shipped.py launches the op as the server's
# eager prefill does without host segment bounds (the sorted prefill kernel, the shipped choice); Nsight's source
# page gives the stall samples per SASS instruction (the LUT gathers of dequant_tile, the shared-memory round trip of
# the dequantized tile, the MMAs), WarpStateStats the issue rate, LaunchStats / Occupancy the programs an SM,
# SpeedOfLight the tensor pipe's and DRAM's share. One task and 8 tasks.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
for tasks in 1 8; do
  timeout 200 $NCU -k regex:_prefill_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \
    --section WarpStateStats --section LaunchStats --section Occupancy --section SpeedOfLight --import-source no -f \
    -o $OUT/prefill_t$tasks python3 benchmarks/profile_shipped.py --m 2048 --tasks $tasks 2>&1 | grep -v Warn | tail -3
  $NCU -i $OUT/prefill_t$tasks.ncu-rep --page source --csv --print-source sass > $OUT/prefill_t${tasks}_sass.csv 2>&1
  $NCU -i $OUT/prefill_t$tasks.ncu-rep --page details > $OUT/prefill_t${tasks}_details.txt 2>&1
  grep -E "Duration|Registers|Achieved Occupancy|Issue Slots Busy|Warp Cycles Per Issued|Compute \(SM\)|Memory Through" \
    $OUT/prefill_t${tasks}_details.txt
done
