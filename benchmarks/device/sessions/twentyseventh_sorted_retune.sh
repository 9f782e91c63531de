# Twenty-seventh session (~1 min): the sorted prefill kernel's choices ("prefill|" entries, timed before the
# register-LUT candidates) re-tuned: bench_kernels.py --phases prefill with those entries dropped from this machine's
# shipped copy; its "fused" column (per-token slots, no segments) tunes them into $OUT/cache.
source benchmarks/device/prep.sh >/dev/null
drop_shipped "prefill|"
SKETCHSERVE_CACHE=$OUT/cache timeout 200 python3 benchmarks/bench_kernels.py --out /tmp/bk --phases prefill 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/kernels_prefill_sorted_retune_twentyseventh.log
grep "^prefill\|done" $OUT/kernels_prefill_sorted_retune_twentyseventh.log | sed 's/LoRA.*//'
