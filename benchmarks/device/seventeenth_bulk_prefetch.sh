# Seventeenth session, last device seconds (~1 min): the cols bucket kernel with each token's LUT rows of its tile
# bulk-prefetched into L2 at its start (cp.async.bulk.prefetch; 127 registers on sm_90, as without), 4096x4096,
# 16 tokens over 16 tasks, gpr 4 then 1, off and on (prediction: gpr 4 46 -> ~35 us, gpr 1 unchanged or a little less).
source benchmarks/device/prep.sh >/dev/null
timeout 100 python3 benchmarks/bucket_gpr.py --prefetch --quick 2>&1 | tee $OUT/bucket_bulk_prefetch_h200.log
