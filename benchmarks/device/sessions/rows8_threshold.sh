# Written in the thirty-sixth session for a later one (~4 min): batch 8 over 5-7 tasks with the 8-row bucket
# threshold as shipped (7 tasks) and at 5 and 6 (SKETCHSERVE_BUCKET_MIN_TASKS), in turns, gpr 1.
source benchmarks/device/prep.sh >/dev/null
for turn in 1 2; do
  timeout 100 python3 benchmarks/device/rows8_threshold.py shipped 1 2>&1 | grep "^\[\|Error" | tee -a $OUT/rows8.log
  for v in 5 6; do
    SKETCHSERVE_BUCKET_MIN_TASKS=$v timeout 100 python3 benchmarks/device/rows8_threshold.py min-$v 1 2>&1 \
      | grep "^\[\|Error" | tee -a $OUT/rows8.log
  done
done
