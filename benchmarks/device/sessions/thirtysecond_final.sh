# Thirty-second session, last call (~8 min): the threshold above 16 rows near the crossover the first A/B's linear fit
# puts at 6-7 tasks (13: the one-task path; 2: the bucket kernel from 2 tasks), at 32 and 64 rows over 6, 7 and 8
# tasks; the kernel table's decode cases with the shipped WIDE choices; the WIDE grid at 16 x 16 (gpr 1) with the
# BLOCK_K 128 candidates added.
source benchmarks/device/prep.sh >/dev/null
for t in 13 2; do
  timeout 100 python3 benchmarks/device/serving_threshold.py fine $t 6,7,8 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_threshold_fine_thirtysecond.log
done
timeout 240 python3 benchmarks/bench_kernels.py --out $OUT --phases decode 2>&1 | grep -v "Warn\|warn_once" \
  > $OUT/kernels_decode_thirtysecond.log
grep "M=  16 T=16\|M=  16 T= 4" $OUT/kernels_decode_thirtysecond.log | cut -c1-120
timeout 90 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --wide --cases 16x16 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/bucket_wide_bk128_grid_gpr1_thirtysecond.log | grep -v "best MMA" | cut -c1-150
