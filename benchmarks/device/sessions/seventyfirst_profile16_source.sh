# Seventy-first session (H100, Triton 3.6, ~1 min): the per-instruction counters of the KW 8 choice at 16 tokens on
# 4096x4096 gpr 1 (profile_shipped.py --m 16): which loads make its L1 busy (79 % of peak against 48 % at 4
# tokens, seventyfirst_profile16.sh). -> $OUT/ncu_kw8_m16_source.csv.gz, summary printed (ncu_sass_summary.py; the
# session's call summed the global columns in an inline copy that --global has since replaced)
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 150 $NCU -k regex:_decode_mma_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \
  --section WarpStateStats --import-source no -o /tmp/src16 python3 benchmarks/profile_shipped.py --m 16 2>&1 | tail -1
$NCU -i /tmp/src16.ncu-rep --page source --csv --print-source sass > /tmp/src16.csv 2>&1
python3 benchmarks/ncu_sass_summary.py /tmp/src16.csv --top 12 --shared --global 2>&1 | tail -40
gzip -c /tmp/src16.csv > $OUT/ncu_kw8_m16_source.csv.gz
