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
  python3 - "$OUT/ring_$name.csv" "$name" <<'PY'
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
hi = next(i for i, r in enumerate(rows) if "Source" in r)
ix = {c: i for i, c in enumerate(rows[hi])}
tot = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
for r in rows[hi + 1:]:
    if len(r) < len(ix):
        continue
    s = r[ix["Source"]].strip().split()
    op = s[1] if s[0].startswith("@") else s[0]
    for j, col in enumerate(("Instructions Executed", "L1 Wavefronts Shared", "L1 Wavefronts Shared Ideal")):
        tot[op][j] += float(r[ix[col]].replace(",", "") or 0)
for op, (n, w, ideal) in sorted(tot.items(), key=lambda kv: -kv[1][1]):
    if w:
        print(sys.argv[2], op, f"executed {n:.0f} wavefronts {w:.0f} ideal {ideal:.0f}", sep=" | ")
PY
  gzip -f $OUT/ring_$name.csv
done
