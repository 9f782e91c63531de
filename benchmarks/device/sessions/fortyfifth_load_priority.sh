# Forty-fifth session (~3 min): in the int8 mode's default serving table the mean LUT load (disk -> slot, under
# decoding) was 92 ms against 29 exact (forty-second): the pool's distance kernels queue behind the decode steps.
# The load stream at the highest priority (adapters/pool.py LOAD_STREAM_PRIORITY) against the default, gpr 1,
# 16 x 16 only (its loads and the cold TTFT). Not run: the session's device time was spent. If -100 loads faster
# with the 16 x 16 step unchanged, make it LOAD_STREAM_PRIORITY's default. (Forty-sixth session: the distance is now
# measured after the slot went ready; the log's "then its distance N ms" is what the priority should shorten.)
source benchmarks/device/prep.sh >/dev/null
for p in 0 -100; do
  mkdir -p $OUT/p$p
  SKETCHSERVE_LOAD_STREAM_PRIORITY=$p timeout 110 python3 benchmarks/bench_serving.py --out $OUT/p$p --gpr 1 \
    --bandwidth 4.25e12 --memory-gb 139 --batches 16 --tasks 16 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/load_priority_$p.log | grep "batch=\|LUT load"
done
