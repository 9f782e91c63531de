# Twelfth session, last call (~7 min): the first 16-task prompt steps with every compile logged, after jit_any_size
# (run 0's 1.4 s steps were compiles of new specializations); the CUDA tests of the kernels it touched; then the
# serving run at gpr 1 with the staggered points run twice (the second timed).
source benchmarks/device/prep.sh >/dev/null
timeout 120 python3 benchmarks/compile_log.py benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16 \
  --decode-steps 4 --tokens 32 > $OUT/compile_log_b16_t16_after_h200.log 2>&1
grep -E "^run|^gpr" $OUT/compile_log_b16_t16_after_h200.log
echo "compiles: $(grep -c '^\[compile' $OUT/compile_log_b16_t16_after_h200.log)"
SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider -x \
  tests/kernels/test_triton_forward.py tests/kernels/test_triton_bucket.py tests/server/test_fused_ops.py \
  tests/server/test_kernel_tuning.py 2>&1 | tee $OUT/kernel_tests_twelfth.log | tail -1
timeout 240 python3 benchmarks/bench_serving.py --gpr 1 --batches 1 16 --tasks 1 16 --new-tokens 32 \
  --out $OUT 2>&1 | tee $OUT/serving_h200_twelfth_final.log | grep -E "tok/s|TTFT|burst" | sed -n 1,20p
