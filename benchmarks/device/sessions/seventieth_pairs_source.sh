# Seventieth session, second of two calls on one warm H100 (carry as seventieth_pairs_profile.sh; ~2 min): under
# Triton 3.9, Nsight Compute's per-instruction counters (SourceCounters) of the pair-table kernel's shipped choice at
# 4 tokens on 4096x4096 gpr 1, to see which of its shared-memory instructions (the lookups, the code-word ring's
# cp.async and reads, the x ring's, the tables' build) take the 1.09 M wavefronts. -> $OUT/pairs_sass.csv.gz (the
# SASS with per-instruction metrics) and a summary by opcode printed.
source benchmarks/device/prep.sh >/dev/null
install_triton39
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 150 $NCU -k regex:_decode_pairs_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \
  --section MemoryWorkloadAnalysis_Tables --import-source no -f -o $OUT/src \
  python3 benchmarks/profile_shipped.py --m 4 --tasks 1 2>&1 | grep -v Warn | tail -1
$NCU -i $OUT/src.ncu-rep --page source --print-source sass --csv > $OUT/pairs_sass.csv 2>&1
$NCU -i $OUT/src.ncu-rep --page details > $OUT/pairs_src_details.txt 2>&1
rm -f $OUT/src.ncu-rep
python3 benchmarks/ncu_sass_summary.py "$OUT/pairs_sass.csv" --top 10 --shared
gzip -f $OUT/pairs_sass.csv
grep -i -B2 -A12 "Shared Memory" $OUT/pairs_src_details.txt | head -40
