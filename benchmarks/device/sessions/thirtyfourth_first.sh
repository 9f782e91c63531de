# Thirty-fourth session, first call (~3 min): what the WIDE bucket kernel's time is made of, on the H200.
# The probe (the shipped choice without its one-hot instructions, gpr 1 and 4), mma.sync's own rate in the kernel's
# operand layouts, then the WIDE grid at 16 x 16 (split-K 2 and 8 at BLOCK_K 256 first timed here).
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do
  timeout 100 python3 benchmarks/bucket_probe.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_probe_gpr${g}_thirtyfourth.log
done
timeout 100 python3 benchmarks/mma_rate.py 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/mma_rate_thirtyfourth.log
timeout 150 python3 benchmarks/bucket_wgmma_grid.py --out $OUT --wide --gpr 1 --cases 16x16 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/bucket_wide_grid_gpr1_thirtyfourth.log | grep -v "best MMA" | cut -c1-150
