# Written in the thirty-fifth session for its last device call (~6 min): the fused ops' CUDA tests (the one-head
# attention form), the attention benchmark at 16 sequences, the bucket probe with LUT_ASYNC at gpr 1, then serving
# 16 x 16 as shipped; if LUT_ASYNC won on 22016x4096, its CUDA tests and serving with it.
source benchmarks/device/prep.sh >/dev/null
timeout 100 python3 -m pytest -q -x tests/server/test_fused_ops.py -p no:cacheprovider 2>&1 | tail -2 \
  | tee $OUT/cuda_tests_fused_ops.log
timeout 60 python3 benchmarks/attention_decode.py --out $OUT --batches 16 64 --contexts 160 1024 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/attention_decode.log
timeout 80 python3 benchmarks/bucket_probe.py --out $OUT --gpr 1 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/bucket_probe_lut_async_gpr1.log | cut -c1-230
timeout 90 python3 benchmarks/device/serving_ab.py shipped 1 2>&1 | grep "^\[\|Error" | tee -a $OUT/serving_last.log
if python3 -c "import json,sys; r=[x for x in json.load(open('$OUT/bucket_probe_gpr1.json'))['rows'] if x['N']==22016][0]; sys.exit(0 if r['lut_async_us'] < 0.98 * r['shipped_us'] else 1)"; then
  timeout 90 python3 benchmarks/device/serving_ab.py lut-async 1 --lut-async 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_last.log
  timeout 150 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "copied_ahead" -p no:cacheprovider \
    2>&1 | tail -2 | tee $OUT/cuda_tests_lut_async.log
fi
