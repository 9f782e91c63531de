# Eighteenth session, first device call (~7 min): the cols bucket kernel's LUT_PREFETCH (written in the seventeenth
# session after its device time ran out; compiled on the CPU only: 127 registers with and without). Kernel A/B at every
# shape and gpr (prediction: gpr 4 4096x4096 46 -> ~35 us, gpr 1 within 1 us), the CUDA bucket tests (the word-order
# test runs it, at odd N), then serving 16 x 16 with it off and on (the module default flipped in this copy), gpr 4
# then 1 (prediction: gpr 4 ~950 -> ~1,150 tok/s).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 150 python3 benchmarks/bucket_gpr.py --prefetch 2>&1 | tee $OUT/bucket_bulk_prefetch_h200.log
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket.py tests/kernels/test_pdl.py 2>&1 | tail -2
for gpr in 4 1; do
  for pf in 0 1; do
    sed -i "s/^LUT_PREFETCH = .*/LUT_PREFETCH = $([ $pf = 1 ] && echo True || echo False)/" kernels/triton_bucket.py
    timeout 150 python3 benchmarks/bench_serving.py --gpr $gpr --batches 16 --tasks 16 --new-tokens 32 \
      --out $OUT/bulkpf${pf}_gpr$gpr 2>&1 | tee $OUT/serving_h200_bulkpf${pf}_gpr$gpr.log | grep -E "tok/s" | sed -n 1p
  done
done
