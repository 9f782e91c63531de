# (A record of what ran: the per-sector prefetch it measured was removed after these runs; LUT_PREFETCH now
# names the cols kernel's bulk prefetch, measured by eighteenth_first.sh. NOTES.md, seventeenth session.)
# Seventeenth session (~6 min): the bucket kernels' LUT fold sectors prefetched into L2 at each group's start
# (LUT_PREFETCH; Nsight showed the gpr-4 kernel 43 % slower than gpr 1 with the same config, its fold's scattered
# LUT sectors 4x as many distinct ones). Kernel A/B per gpr and shape, the bucket tests on CUDA, then serving 16 x 16
# with it off (the module default flipped in this copy) and on, gpr 4 and 1.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 150 python3 benchmarks/bucket_gpr.py 2>&1 | tee $OUT/bucket_lut_prefetch_h200.log
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py 2>&1 | tail -2
for gpr in 4 1; do
  for pf in 0 1; do
    sed -i "s/^LUT_PREFETCH = .*/LUT_PREFETCH = $([ $pf = 1 ] && echo True || echo False)/" kernels/triton_bucket.py
    timeout 150 python3 benchmarks/bench_serving.py --gpr $gpr --batches 16 --tasks 16 --new-tokens 32 \
      --out $OUT/lutpf${pf}_gpr$gpr 2>&1 | tee $OUT/serving_h200_lutpf${pf}_gpr$gpr.log | grep -E "tok/s" | sed -n 1p
  done
done
