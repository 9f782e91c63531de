# Thirty-third session: serving 16 x 16 (gpr 1) with the shipped choices against the re-tune's from a SKETCHSERVE_CACHE,
# in turns. Meant as the merged shipped file against the same choices from the cache (the first call measured 1,695.5
# tok/s from the cache, a later one 1,563.1 "shipped"); the merge had not been written (its script died on a closed
# pipe), so this compares the thirty-second session's choices with the re-tuned ones (results/NOTES.md).
source benchmarks/device/prep.sh >/dev/null
mkdir -p /tmp/ssc/autotune && cp benchmarks/results/autotune_bucket16_retuned_thirtythird_h200.json /tmp/ssc/autotune/NVIDIA_H200.v8.json
for r in 1 2; do
  SKETCHSERVE_CACHE=/tmp/ssx$r timeout 60 python3 benchmarks/device/serving_point.py shipped 1 16 2>&1 | grep "^\["
  SKETCHSERVE_CACHE=/tmp/ssc timeout 60 python3 benchmarks/device/serving_point.py cache 1 16 2>&1 | grep "^\["
done | tee $OUT/serving_shipped_vs_cache_thirtythird.log
