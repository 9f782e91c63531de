# Next session (~3 min): L2_PREFETCH in whole rows (one bulk request a row, the rows spread over the threads;
# triton_common.prefetch_codes_l2) on the shipped choices, off and on in turns. The twenty-second session timed it in
# 128-byte pieces, one a thread: the one-token kernel 0.79-0.91x (16 pieces a row), the fragment kernel at 8 tokens
# 1.03-1.08x where its configs made one request a row (ROWS 2: 64 rows over 64 threads) and 0.94x elsewhere
# (results/choice_ab_m*_l2_prefetch_h200.log). Prediction: the one-token kernel ~1.0x (8 requests of 2 KB instead of
# 128 of 128 B), the fragment kernel at 8 tokens as before, at 4 tokens 1.0-1.05x. Where it wins, make it the
# default per kernel (module default) and re-run bench_serving's batch 1 / 16 x 1 / 16 x 4; where not, remove it.
source benchmarks/device/prep.sh >/dev/null
timeout 120 python3 -m pytest -q tests/kernels/test_pdl.py -k "l2" 2>&1 | tail -1
for m in 1 4 8 16; do
  timeout 90 python3 benchmarks/choice_ab.py --out $OUT --flag L2_PREFETCH --m $m 2>&1 | grep -v Warn \
    | tee $OUT/choice_ab_m${m}_l2_whole_rows_h200.log
done
