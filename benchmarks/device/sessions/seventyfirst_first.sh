# Seventy-first session, first of two calls on one warm H100 (carries .device-carry/triton39/part_aa into /root/t39
# for the second): under the device's Triton 3.6, the 4-token one-task keys tuned again with the W16 candidates
# (seventyfirst_retune16.py 4: shipped, new and KW 8 in turns), then the kernel table's one-task rows with the
# re-tuned 16-token choices. -> $OUT/retune4_w16.log, retune_4_seventyfirst_w16.json, kernels.{log,json,png}
source benchmarks/device/prep.sh >/dev/null
mkdir -p /root/t39 && cp .device-carry/triton39/part_aa /root/t39/
SKETCHSERVE_CACHE=/tmp/tc4 timeout 200 python3 benchmarks/device/sessions/seventyfirst_retune16.py 4 seventyfirst_w16 \
  2>&1 | grep -v "Warn\|warn_once" > $OUT/retune4_w16.log
grep "tokens" $OUT/retune4_w16.log | cut -c1-140
one_task_table $((540 - SECONDS))
