# One device call (~1 min): per-SASS-instruction stall samples of the one-token register-LUT kernel and the first
# bucket-sum launch of bench_kernels.py --profile (Nsight Compute's source page as CSV: where the warps wait).
source benchmarks/device/prep.sh
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 200 $NCU -k regex:'_decode_prmt_kernel|_bucket_cols' -c 2 --section SourceCounters --section WarpStateStats \
  --import-source no -o /tmp/src python3 benchmarks/bench_kernels.py --profile 2>&1 | tail -2
for k in _decode_prmt_kernel _bucket_cols_kernel; do
  $NCU -i /tmp/src.ncu-rep -k $k --page source --csv --print-source sass > $OUT/source$k.csv 2>&1
done
ls -la $OUT; head -3 $OUT/source_bucket_cols_kernel.csv | cut -c1-600
