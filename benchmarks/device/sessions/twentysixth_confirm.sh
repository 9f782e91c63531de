# Twenty-sixth session, third call (~9 min): the tensor-core kernel without PDL above 16 rows (PDL_DOT_MAX_M),
# batch 64 of the README's serving table at gpr 1 and 4 (64 new tokens, as the table), then the CUDA tests of
# tests/server (the HTTP files too, with carry_wheels.sh's wheels), tests/adapters and tests/kernels/test_pdl.py.
source benchmarks/device/prep.sh >/dev/null
for gpr in 1 4; do
  SKETCHSERVE_CACHE=/tmp/ssc_gpr$gpr timeout 170 python3 benchmarks/bench_serving.py --gpr $gpr --batches 64 \
    --tasks 1 4 16 --bandwidth 4.25e12 --out $OUT/serving_b64_gpr${gpr}_twentysixth 2>&1 | grep -v "Warn\|warn_once" \
    > $OUT/serving_h200_b64_gpr${gpr}_twentysixth.log
  echo "== gpr $gpr ($SECONDS s)"; grep "tok/s" $OUT/serving_h200_b64_gpr${gpr}_twentysixth.log | head -3
done
timeout $((560 - SECONDS)) python3 -m pytest -q -x -p no:cacheprovider tests/server tests/adapters \
  tests/kernels/test_pdl.py 2>&1 | tail -15 > $OUT/cuda_tests_h200_twentysixth.log
tail -8 $OUT/cuda_tests_h200_twentysixth.log; echo "== tests ($SECONDS s)"
