# Forty-ninth session's plan (~15-20 min in six calls): the pair-table decode kernel
# (kernels/gluon_decode_pairs.py), Triton 3.9 only. Before it, on this machine: bash benchmarks/device/carry_triton39.sh.
#   call 1, carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]:
#     bash benchmarks/device/sessions/fortyninth_pairs.sh 1 4096x4096   (unpacks Triton 3.9; the gpr 1 grid)
#   call 2 (nothing carried): bash benchmarks/device/sessions/fortyninth_pairs.sh tests   (the kernel's CUDA tests)
#   call 3 (nothing carried): bash benchmarks/device/sessions/fortyninth_pairs.sh 1 11008x4096,4096x11008
#   call 4 (nothing carried): bash benchmarks/device/sessions/fortyninth_pairs.sh 4   (gpr 4)
#   call 5 (nothing carried): bash benchmarks/device/sessions/fortyninth_pairs.sh ncu
#   call 6, carry [".device-carry/wheels"] (the server's imports; if the kernel beat the op):
#     bash benchmarks/device/sessions/fortyninth_pairs.sh serving
# 1. its CUDA tests (the kernel against the reference, poisoned output, split counters reused); 2. its grid against
# the op as shipped (compiled by Triton 3.9) and cuBLAS at 1-16 tokens of one task; 3. Nsight Compute on the gpr 1
# grid's best at 4096x4096 (1 and 16 tokens): where its warps wait, its L1 / L2 / DRAM traffic; 4. the 7B-shaped
# server's decode at 1, 4 and 16 requests of one task, without then with the kernel (SKETCHSERVE_PAIRS_DECODE), both
# under Triton 3.9 (the op's candidates tuned at the engine's start).
source benchmarks/device/prep.sh >/dev/null
install_triton39
if [ "$1" = tests ]; then
  # Triton 3.9's nanobind prints a leak report at exit (hundreds of lines): dropped, so the tail keeps pytest's summary.
  timeout ${TESTS_S:-480} python3 -m pytest -q tests/kernels/test_gluon_decode_pairs.py 2>&1 \
    | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -15 \
    | tee $OUT/cuda_tests_pairs.log
  exit 0
fi
if [ "$1" = serving ]; then
  for flag in 0 1; do
    SKETCHSERVE_PAIRS_DECODE=$flag timeout 280 python3 benchmarks/device/serving_point.py pairs$flag 1 1,4,16 1 2>&1 \
      | grep -v "Warn\|warn_once" | tee $OUT/pairs_serving_$flag.log | grep "^\[pairs"
  done
  exit 0
fi
if [ "$1" = ncu ]; then
  NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
  [ -n "$NCU" ] || exit 3
  timeout 300 $NCU -k regex:_decode_pairs_kernel --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section MemoryWorkloadAnalysis --section SourceCounters --section LaunchStats \
    --import-source no -o /tmp/pairs \
    python3 benchmarks/pairs_decode.py --out $OUT --profile ${PROFILE:-/root/t39/pairs_grid_gpr1.json} 2>&1 | tail -6
  $NCU -i /tmp/pairs.ncu-rep --page details > $OUT/ncu_pairs_details.log 2>&1
  for skip in 0 3; do  # the first profiled launch of each token count (M = 1, then 16)
    $NCU -i /tmp/pairs.ncu-rep --launch-skip $skip --launch-count 1 --page source --csv --print-source sass \
      > /tmp/src_$skip.csv 2>&1
    python3 benchmarks/ncu_sass_summary.py /tmp/src_$skip.csv --top 25 > $OUT/ncu_sass_pairs_$skip.log 2>&1
  done
  exit 0
fi
for gpr in $1; do
  timeout ${GRID_S:-540} python3 benchmarks/pairs_decode.py --out $OUT --gpr $gpr --budget-s ${BUDGET:-20} --cases ${CASES:-1x1,16x1} ${2:+--shapes $2} ${WK:+--wk $WK} ${LISTS:+--lists $LISTS} 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/pairs_grid_gpr$gpr.log | grep "T=1:"
  cp $OUT/pairs_grid_gpr$gpr.json /root/t39/ 2>/dev/null
done
