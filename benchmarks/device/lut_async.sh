# Written in the thirty-fifth session for the next (~7 min): LUT_ASYNC 1 and 2's CUDA reference tests, the probe at
# gpr 1 and 4 (the shipped choices, the PROBE levels, LUT_ASYNC 1 and 2, in turns), then serving 16 x 16 with the
# better mode against shipped (gpr 1, then 4).
source benchmarks/device/prep.sh >/dev/null
timeout 240 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "copied_ahead" -p no:cacheprovider \
  2>&1 | tail -2 | tee $OUT/cuda_tests_lut_async.log
grep -q " passed" $OUT/cuda_tests_lut_async.log && ! grep -q "failed" $OUT/cuda_tests_lut_async.log || exit 4
for g in 1 4; do
  timeout 100 python3 benchmarks/bucket_probe.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_probe_lut_async_gpr${g}.log | cut -c1-260
done
mode=$(python3 -c "import json; r=json.load(open('$OUT/bucket_probe_gpr1.json'))['rows']; \
print(min((1, 2), key=lambda m: sum(x[f'lut_async{m}_us'] for x in r)))")
for g in 1 4; do
  timeout 90 python3 benchmarks/device/serving_ab.py shipped $g 2>&1 | grep "^\[\|Error" | tee -a $OUT/serving_lut_async.log
  timeout 90 python3 benchmarks/device/serving_ab.py lut-async-$mode $g --lut-async=$mode 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_lut_async.log
done
