# Thirty-second session (~9 min): serving 16 x 16 (gpr 1) with the shipped choices; the 16- and 8-token bucket keys
# tuned again with the WIDE form among the candidates (retune_keys.py: old and new choice per key, timed in
# turns); serving 16 x 16 with the re-tuned choices.
source benchmarks/device/prep.sh >/dev/null
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
SKETCHSERVE_CACHE=/tmp/ss32_old timeout 150 python3 benchmarks/device/serving_point.py shipped 1 16 2>&1 \
  | grep "^\[" | tee $OUT/serving_shipped_thirtysecond.log
drop_shipped "bucket|16,"; drop_shipped "bucket|8,"
SKETCHSERVE_CACHE=$OUT/cache timeout 230 python3 benchmarks/device/retune_keys.py /tmp/shipped.json 16,8 \
  thirtysecond 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_retune_thirtysecond.log | cut -c1-300
SKETCHSERVE_CACHE=$OUT/cache timeout 150 python3 benchmarks/device/serving_point.py retuned 1 16 2>&1 \
  | grep "^\[" | tee $OUT/serving_retuned_thirtysecond.log
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null; rm -rf $OUT/cache
