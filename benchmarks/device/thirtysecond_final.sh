# Thirty-second session, last call (~8 min): the threshold above 16 rows near the crossover the first A/B's linear fit
# puts at 6-7 tasks (13: the one-task path; 2: the bucket kernel from 2 tasks), at 32 and 64 rows over 6, 7 and 8
# tasks; the 16-token bucket keys tuned again over the updated WIDE_OP_CANDIDATES (split-K 4 led the fold's grid);
# then the kernel table's decode cases with those choices.
source benchmarks/device/prep.sh >/dev/null
for t in 13 2; do
  timeout 100 python3 benchmarks/device/thirtysecond_threshold.py fine $t 6,7,8 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_threshold_fine_thirtysecond.log
done
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
drop_shipped "bucket|16,"
SKETCHSERVE_CACHE=$OUT/cache timeout 100 python3 benchmarks/device/thirtyfirst_retune.py /tmp/shipped.json 16 \
  thirtysecond_split4 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_retune_thirtysecond_split4.log | cut -c1-120
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null
SKETCHSERVE_CACHE=$OUT/cache timeout 240 python3 benchmarks/bench_kernels.py --out $OUT --phases decode 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/kernels_decode_thirtysecond.log
grep "M=  16 T=16\|M=  16 T= 4" $OUT/kernels_decode_thirtysecond.log | cut -c1-120
rm -rf $OUT/cache
