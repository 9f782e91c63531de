# Twenty-sixth session, sixth call (~4 min): the tensor-core kernel's PDL rule, by rows (shipped: up to 16 rows) or by
# its pipeline (a temporary switch SS_RULE=stages: PDL wherever the config has one stage, at any row count), in turns,
# two rounds; the points of twentysixth_pdl_dot.sh (its /tmp/ss26_pdl.py, written by it).
source benchmarks/device/prep.sh >/dev/null
sed -n '/^cat > \/tmp\/ss26_pdl.py/,/^PY$/p' benchmarks/device/sessions/twentysixth_pdl_dot.sh | sed '1d;$d' > /tmp/ss26_pdl.py
J=$OUT/pdl_stages_twentysixth.jsonl
run() {
  local label=$1; shift
  [ $SECONDS -lt 420 ] || { echo "== $label skipped"; return; }
  env SKETCHSERVE_CACHE=/tmp/ss26s "$@" timeout $((480 - SECONDS)) python3 /tmp/ss26_pdl.py --label $label --jsonl $J \
    2>&1 | grep -v "Warn\|warn_once" | tee -a $OUT/pdl_stages_twentysixth.log | grep -E "x 4:|x 1:" | tr '\n' ' '; echo
}
run rows; run stages SS_RULE=stages; run stages SS_RULE=stages; run rows
python3 - <<'PY'
import json, os
rows = {}
for line in open(os.environ["OUT"] + "/pdl_stages_twentysixth.jsonl"):
    r = json.loads(line)
    for p in r["points"]:
        rows.setdefault((p["batch"], p["tasks"]), {}).setdefault(r["label"], []).append(p["step_ms"])
print("batch x tasks:          rows           stages   (step ms, each round)")
for key in sorted(rows):
    print(f"{key[0]:>5} x {key[1]:<5}: " + "  ".join(f"{'/'.join(f'{v:.2f}' for v in rows[key].get(l, [])):>15}" for l in ("rows", "stages")))
PY
