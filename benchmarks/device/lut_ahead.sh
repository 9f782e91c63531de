# Thirty-eighth session (~8 min): LUT_AHEAD, the WIDE bucket kernel prefetching (L2, evict_last) the LUT runs of the
# program launched LUT_AHEAD programs later, so that a later wave's folds find them in L2 (the fold's LUT loads cost
# 13.5 of 109 us on 22016x4096 at gpr 1, 26 of 114 at gpr 4). Its CUDA tests, then choice_ab in turns on the five 7B
# shapes, gpr 1 and 4: ahead 528 (one wave of 4-warp programs) and 1056, at the first K block; argv[1] = "last" times
# 528 at the last K block instead.
source benchmarks/device/prep.sh >/dev/null
if [ "${1:-first}" = first ]; then
  timeout 240 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "prefetch" -p no:cacheprovider \
    2>&1 | tail -2 | tee $OUT/cuda_tests_lut_ahead.log
  grep -q " passed" $OUT/cuda_tests_lut_ahead.log && ! grep -q "failed" $OUT/cuda_tests_lut_ahead.log || exit 4
  for v in 0,528 0,1056; do
    timeout 200 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag LUT_AHEAD \
      --values $v --rounds 3 2>&1 | grep -v "Warn\|warn_once" | tee -a $OUT/lut_ahead_ab.log
  done
else
  timeout 200 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag LUT_AHEAD \
    --values 0,528 --b-extra '{"LUT_AHEAD_LAST": 1}' --rounds 3 2>&1 | grep -v "Warn\|warn_once" \
    | tee -a $OUT/lut_ahead_last_ab.log
fi
