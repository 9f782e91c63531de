# (A record of what ran: the per-sector prefetch it measured was removed after these runs; LUT_PREFETCH now
# names the cols kernel's bulk prefetch, measured by eighteenth_first.sh. NOTES.md, seventeenth session.)
# Seventeenth session (~4 min): LUT_PREFETCH in the rows bucket kernel only (the cols kernel's was slower): serving
# 64 x 16 (the rows layout's case) with it off (module default flipped in this copy) and on, gpr 1.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for pf in 0 1; do
  sed -i "s/^LUT_PREFETCH = .*/LUT_PREFETCH = $([ $pf = 1 ] && echo True || echo False)/" kernels/triton_bucket.py
  timeout 120 python3 benchmarks/bench_serving.py --gpr 1 --batches 64 --tasks 16 --new-tokens 32 \
    --out $OUT/rowspf$pf 2>&1 | tee $OUT/serving_h200_rowspf${pf}_gpr1.log | grep -E "tok/s" | sed -n 1p
done
