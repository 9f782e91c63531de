# Seventieth session, second of two calls on one warm H100 (the first carried .device-carry/triton39/part_aa into
# /root/t39; this one carries part_ab, SHA256 and the wheels): under Triton 3.9, the one-task decode family ("one":
# the gather class's choice, the fragment kernel with KW and W16 since the sixty-seventh session; "pairs": the
# pair-table kernel) re-decided on every key, since the H100's shipped decisions date from the fifty-fourth session,
# before KW and W16; then the kernel table's one-task rows as served under 3.9. -> $OUT/kernels.{log,json,png},
# $OUT/autotune_t39.json (the choices tuned here).
source benchmarks/device/prep.sh >/dev/null
install_triton39
python3 - <<'PY'
import json, pathlib
p = pathlib.Path("kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json")
d = json.loads(p.read_text())
p.write_text(json.dumps({k: v for k, v in d.items() if not k.startswith("decode_family|")}))
PY
one_task_table $((560 - SECONDS))
cat $SKETCHSERVE_CACHE/autotune/*.json > $OUT/autotune_t39.json 2>/dev/null
grep -o '"decode_family[^}]*}' $OUT/autotune_t39.json
