# Forty-fifth session (~8 min): the serving table as the server now serves by default on sm_90 (the int8 activation
# mode, with the norms' digits for qkv and gate_up), gpr 1 and 4 (bench_serving.py without flags takes the server's
# default); then the int8 engine's CUDA tests (the norms' digits test, now for the default producer and for both).
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do
  mkdir -p $OUT/gpr$g
  timeout 170 python3 benchmarks/bench_serving.py --out $OUT/gpr$g --gpr $g --bandwidth 4.25e12 --memory-gb 139 \
    2>&1 | grep -v "Warn\|warn_once" | tee $OUT/serving_default_gpr$g.log | grep "batch=\|TTFT 512\|residency"
done
timeout 140 python3 -m pytest -q -p no:cacheprovider -rfE tests/server/test_int8_activations.py 2>&1 | tail -5 \
  | tee $OUT/cuda_tests_int8_default.log
