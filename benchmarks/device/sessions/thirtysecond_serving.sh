# Thirty-second session (~6 min): serving 16 x 16 at gpr 4 with the shipped choices; the 16-token bucket keys tuned
# again with the WIDE form's contiguous fold; serving 16 x 16 at gpr 1 and 4 with them; then the bucket threshold
# above 16 rows, 13 against 9, at 32 and 64 rows over 9 and 12 tasks (serving_threshold.py).
source benchmarks/device/prep.sh >/dev/null
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
SKETCHSERVE_CACHE=/tmp/ss32_old timeout 100 python3 benchmarks/device/serving_point.py shipped 4 16 2>&1 \
  | grep "^\[" | tee $OUT/serving_shipped_gpr4_thirtysecond.log
drop_shipped "bucket|16,"
SKETCHSERVE_CACHE=$OUT/cache timeout 120 python3 benchmarks/device/retune_keys.py /tmp/shipped.json 16 \
  thirtysecond_fold 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_retune_thirtysecond_fold.log | cut -c1-200
for g in 1 4; do
  SKETCHSERVE_CACHE=$OUT/cache timeout 100 python3 benchmarks/device/serving_point.py retuned $g 16 2>&1 \
    | grep "^\[" | tee $OUT/serving_retuned_gpr${g}_thirtysecond.log
done
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null
for t in 13 9; do
  SKETCHSERVE_CACHE=$OUT/cache timeout 110 python3 benchmarks/device/serving_threshold.py ab $t 2>&1 \
    | grep "^\[\|Error" | tee -a $OUT/serving_threshold_thirtysecond.log
done
rm -rf $OUT/cache
