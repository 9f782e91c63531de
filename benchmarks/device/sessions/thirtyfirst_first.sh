# Thirty-first session, first call (~4 min): (1) benchmarks/read_floor.py, the persistent one-token form timed beside
# the codes-only reader, cuBLAS and the op (never timed on a GPU before); (2) the CUDA tests the thirtieth session's
# time did not reach: the persistent form's, the tuner's agreement test, the few-task choice, the prefill tiles file.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 benchmarks/read_floor.py --out $OUT 2>&1 | grep -v "Warn\|warn_once" > $OUT/read_floor.log
tail -25 $OUT/read_floor.log
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py tests/kernels/test_prefill_tiles.py \
  "tests/kernels/test_triton_bucket.py::test_a_batch_of_a_few_tasks_takes_the_fragment_kernels_own_choice" 2>&1 \
  | tail -15 > $OUT/cuda_tests_thirtyfirst.log
tail -8 $OUT/cuda_tests_thirtyfirst.log
