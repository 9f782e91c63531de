# Written in the fortieth session, for after `fortyfirst_first.sh` (~7 min a call): if bucket_level_split.py shows
# LEVEL_SPLIT winning, the bucket keys of ${1:-32} tokens (gpr 1 and 4, the five 7B shapes) tuned again with every
# LEVEL_SPLIT candidate among the op's (LEVEL_SPLIT_ALL=1), each key's old and new choice timed in turns; then
# serving at batch ${1:-32} over 16 tasks, gpr 1 and 4, with the re-tuned choices (a user cache over the shipped
# file). Run with 32, then 64. Then list the winners in LEVEL_SPLIT_OP_CANDIDATES and merge the keys that won by
# > 2 % into kernels/tuned/NVIDIA_H200.v8.json.
source benchmarks/device/prep.sh >/dev/null
t=${1:-32}
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
drop_shipped "bucket|$t,"
LEVEL_SPLIT_ALL=1 SKETCHSERVE_CACHE=$OUT/cache timeout 330 python3 benchmarks/device/thirtyfirst_retune.py \
  /tmp/shipped.json $t retune_level_split_$t 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/bucket_retune_level_split_$t.log | cut -c1-230
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null
for g in 1 4; do
  SKETCHSERVE_CACHE=$OUT/cache timeout 85 python3 benchmarks/device/thirtyfirst_serving.py retuned $g $t 2>&1 \
    | grep "^\[" | tee -a $OUT/serving_retuned_level_split_$t.log
done
rm -rf $OUT/cache
