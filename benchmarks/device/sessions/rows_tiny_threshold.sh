# Thirty-seventh session (~4 min): the up-to-8-row bucket threshold below 5 tasks. rows8_threshold.sh put 5 ahead of
# the shipped 7 (batch 8: 5 tasks 9.91 -> 7.28 ms, 6 tasks 11.42 -> 7.24). Batch 8 and batch 4 over 3 and 4 tasks,
# the few-task class (threshold 5) against the bucket kernel (threshold 3), then batch 8 over 5 and 6 tasks at gpr 4,
# shipped (7) against 5, in turns.
source benchmarks/device/prep.sh >/dev/null
for turn in 1 2; do
  for v in 5 3; do
    for rows in 8 4; do
      SKETCHSERVE_BUCKET_MIN_TASKS=$v timeout 80 python3 benchmarks/device/rows8_threshold.py min-$v 1 $rows 3,4 2>&1 \
        | grep "^\[\|Error" | tee -a $OUT/rows_tiny.log
    done
  done
  timeout 80 python3 benchmarks/device/rows8_threshold.py shipped 4 8 5,6 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/rows_tiny.log
  SKETCHSERVE_BUCKET_MIN_TASKS=5 timeout 80 python3 benchmarks/device/rows8_threshold.py min-5 4 8 5,6 2>&1 \
    | grep "^\[\|Error" | tee -a $OUT/rows_tiny.log
done
