# Seventieth session, second of two calls on one warm H100 (carry as seventieth_pairs_profile.sh; ~2 min): under
# Triton 3.9, Nsight's per-instruction shared-memory wavefronts and the duration of the pair-table kernel's shipped
# 4-token choice (seventieth_pairs_ring.py) at 4 and 8 tokens, and at 4 without the x ring (XSTAGE 0).
# -> a table printed; $OUT/ring_<case>.csv.gz
source benchmarks/device/prep.sh >/dev/null
install_triton39
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
for c in "m4|4|{}" "m8|8|{}" "m4x0|4|{\"XSTAGE\": 0}"; do
  IFS='|' read -r name m extra <<< "$c"
  timeout 120 $NCU -k regex:_decode_pairs_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \
    --section SpeedOfLight --import-source no -f -o $OUT/$name \
    python3 benchmarks/device/sessions/seventieth_pairs_ring.py $m "$extra" 2>&1 | grep "max err"
  $NCU -i $OUT/$name.ncu-rep --page source --print-source sass --csv > $OUT/ring_$name.csv 2>&1
  $NCU -i $OUT/$name.ncu-rep --page details 2>&1 | grep -E "^    Duration" | sed "s/^/$name /"
  rm -f $OUT/$name.ncu-rep
  python3 benchmarks/ncu_sass_summary.py "$OUT/ring_$name.csv" --top 0 --shared | sed "s/^/$name /"
  gzip -f $OUT/ring_$name.csv
done
