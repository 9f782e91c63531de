# Written in the thirty-eighth session for the next (~7 min a call): the bucket keys of ${1:-16} tokens (gpr 1 and 4,
# the five 7B shapes) tuned again over today's candidates now that each program folds once after its K loop
# (ONE_FOLD; the shipped choices were picked with the fold in the loop, and the 32-token gpr 4 keys can now take
# split-K 4, whose ranges are one LUT group each), each key's old and new choice timed in turns; then serving at
# batch ${1:-16} over 16 tasks, gpr 1 and 4, with the re-tuned choices (a user cache over the shipped file). Run with
# 16, then 32. Merge the keys that won by > 2 % into kernels/tuned/NVIDIA_H200.v8.json. $2: the outputs' label
# (default one_fold; retune_level_split.sh runs this with its own, LEVEL_SPLIT_ALL=1 in the environment).
source benchmarks/device/prep.sh >/dev/null
t=${1:-16}
label=${2:-one_fold}
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
drop_shipped "bucket|$t,"
SKETCHSERVE_CACHE=$OUT/cache timeout 330 python3 benchmarks/device/retune_keys.py /tmp/shipped.json $t \
  retune_${label}_$t 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_retune_${label}_$t.log | cut -c1-230
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null
for g in 1 4; do
  SKETCHSERVE_CACHE=$OUT/cache timeout 85 python3 benchmarks/device/serving_point.py retuned $g $t 2>&1 \
    | grep "^\[" | tee -a $OUT/serving_retuned_${label}_$t.log
done
rm -rf $OUT/cache
