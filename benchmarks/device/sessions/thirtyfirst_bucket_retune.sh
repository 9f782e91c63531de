# Thirty-first session (~6 min): the 32- and 64-token bucket keys tuned again with the wgmma bucket kernel among the
# candidates (retune_keys.py: old and new choice per key, timed in turns), then serving 16 x 16 and 64 x 16
# (gpr 1) with the shipped choices and with the re-tuned ones.
source benchmarks/device/prep.sh >/dev/null
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py 2>&1 | tail -2
SKETCHSERVE_CACHE=/tmp/ss31_old timeout 170 python3 benchmarks/device/serving_point.py shipped 2>&1 \
  | grep "^\[" | tee $OUT/serving_shipped_thirtyfirst.log
drop_shipped "bucket|32,"; drop_shipped "bucket|64,"
SKETCHSERVE_CACHE=$OUT/cache timeout 240 python3 benchmarks/device/retune_keys.py /tmp/shipped.json 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/bucket_retune_thirtyfirst.log | cut -c1-300
SKETCHSERVE_CACHE=$OUT/cache timeout 170 python3 benchmarks/device/serving_point.py retuned 2>&1 \
  | grep "^\[" | tee $OUT/serving_retuned_thirtyfirst.log
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null; rm -rf $OUT/cache
