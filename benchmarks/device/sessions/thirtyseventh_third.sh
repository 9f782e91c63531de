# Thirty-seventh session (~4 min): up to 8 rows on sm_90 the bucket kernel from 4 tasks, 1-4 rows under the 8-token
# key's WIDE choice (_bucket_m_key). CUDA tests (the WIDE form with 3 tokens, the routing at 4 rows x 4 tasks), then
# serving batch 4 over 3 and 4 tasks and batch 2 over 2 as shipped against the few-task class (threshold 5), in turns.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x -p no:cacheprovider "tests/kernels/test_triton_bucket_wgmma.py::test_the_wide_form_matches_the_reference[6]" \
  "tests/kernels/test_triton_bucket_wgmma.py::test_the_kernel_matches_the_reference_on_batches_of_many_slots[6]" \
  tests/kernels/test_triton_bucket.py -k "few_rows or four_rows or threshold or task or wide or many_slots" 2>&1 \
  | tail -2 | tee $OUT/cuda_tests_rows4.log
grep -q " passed" $OUT/cuda_tests_rows4.log && ! grep -q "failed" $OUT/cuda_tests_rows4.log || exit 4
for turn in 1 2; do
  timeout 80 python3 benchmarks/device/rows8_threshold.py shipped 1 4 3,4 2>&1 | grep "^\[\|Error" | tee -a $OUT/rows4.log
  SKETCHSERVE_BUCKET_MIN_TASKS=5 timeout 80 python3 benchmarks/device/rows8_threshold.py min-5 1 4 3,4 2>&1 \
    | grep "^\[\|Error" | tee -a $OUT/rows4.log
done
timeout 80 python3 benchmarks/device/rows8_threshold.py shipped 4 4 4 2>&1 | grep "^\[\|Error" | tee -a $OUT/rows4.log
SKETCHSERVE_BUCKET_MIN_TASKS=5 timeout 80 python3 benchmarks/device/rows8_threshold.py min-5 4 4 4 2>&1 \
  | grep "^\[\|Error" | tee -a $OUT/rows4.log
