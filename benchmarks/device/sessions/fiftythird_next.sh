# Fifty-third session's plan for the next H100, three calls (~10, ~4 and ~8 min):
#   call 1, carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]:
#     bash benchmarks/device/sessions/fiftythird_next.sh
#   call 2, on the warm machine, nothing carried: TESTS_S=400 bash benchmarks/device/sessions/fortyninth_pairs.sh tests
#     (the pair kernel's CUDA tests, the new ROWS 2 / XSTAGE case and the op's pairs-or-gather choice among them)
#   call 3, on the warm machine, nothing carried: bash benchmarks/device/sessions/fiftythird_next.sh table
#     (the kernel table's decode rows on 4096x4096 under Triton 3.9, the op told each batch's task count as the engine
#     tells it, with SKETCHSERVE_PAIRS_DECODE=1: the one-task bars as the op would serve them with the pair
#     kernel; ~5-8 min: $OUT/kernels.{json,png}, kernels_told_pairs.log)
# Call 1: the pair kernel's candidates on the three 7B shapes at 1 and 16 tokens of one task, beside the op as the
# kernel table times it (no task count: the gather class) and, under SKETCHSERVE_PAIRS_DECODE=1, the op told the
# batch's one task (op_one_task: its pair kernel or its gather class, whichever it timed faster at the shape). The
# question: is op_one_task never slower than the op, and faster on 4096x4096 (the pair kernel: 7.1-7.5 us at one token,
# 10.7-11.2 at 16, against the op's 8.1-8.6 and 13.1-13.7 under Triton 3.9)? If so, turn the flag on by default where
# Triton >= 3.9. $OUT/pairs_grid_gpr1_candidates.{json,log}
nvidia-smi --query-gpu=name --format=csv,noheader
if [ "$1" = table ]; then
  source benchmarks/device/prep.sh >/dev/null
  install_triton39
  # SHAPES (fifty-sixth session): e.g. SHAPES=11008x4096,4096x11008 for the MLP shapes' rows
  SKETCHSERVE_PAIRS_DECODE=1 timeout 560 python3 benchmarks/bench_kernels.py --out $OUT --phases decode --tell-tasks \
    --shapes ${SHAPES:-4096x4096} 2>&1 | grep -v "Warn\|warn_once\|leaked\|nanobind\|skipped remainder" > $OUT/kernels_told_pairs.log
  tail -5 $OUT/kernels_told_pairs.log
  cp $SKETCHSERVE_CACHE/autotune/*.json $OUT/ 2>/dev/null  # (fifty-fourth session) its choices, for ship_choices.py
  exit 0
fi
SKETCHSERVE_PAIRS_DECODE=1 GRID_S=370 BUDGET=60 LISTS=candidates bash benchmarks/device/sessions/fortyninth_pairs.sh 1
for f in json log; do mv $OUT/pairs_grid_gpr1.$f $OUT/pairs_grid_gpr1_candidates.$f; done
# then ROWS 4 (four row blocks a warp; prediction at 16 tokens 8.5-10 us) beside the staged-x entries, 4096x4096:
# $OUT/pairs_grid_gpr1.{json,log}
GRID_S=160 BUDGET=140 LISTS=staged_x bash benchmarks/device/sessions/fortyninth_pairs.sh 1 4096x4096
