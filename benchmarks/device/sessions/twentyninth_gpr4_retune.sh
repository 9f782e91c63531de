# Twenty-ninth session's follow-up (~7 min; written, not run: no device time was left): the gpr 4 segment tiles
# keys re-tuned with the TMA / PINGPONG wgmma candidates (the gpr 1 keys were re-tuned in the twenty-ninth session;
# the gpr 4 ones shipped are the twenty-eighth session's, partly cp.async wgmma choices), into $OUT/cache for
# kernels/tuned/; then the staggered serving runs over 4 and 8 tasks (27th session: 815.7 / 695.6 tok/s).
# Prediction: 8 x 256 at gpr 4 ~15 % faster (as gpr 1: 139 -> 112 us); staggered runs +3-8 %.
source benchmarks/device/prep.sh >/dev/null
python3 - <<'PY'
import json, pathlib
p = pathlib.Path("kernels/tuned/NVIDIA_H200.v8.json")
d = json.loads(p.read_text())
# key: prefill_tiles|bucket,N,K,bits,gpr,x dtype,LUT dtype,segment class
p.write_text(json.dumps({k: v for k, v in d.items() if not (k.startswith("prefill_tiles|") and k.split("|")[1].split(",")[4] == "4")}))
PY
SKETCHSERVE_CACHE=$OUT/cache timeout 240 python3 benchmarks/prefill_tasks.py --out $OUT --gpr 4 \
  --cases "x 256,x 64,x 127,x 32,x 96,x 512" 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_tasks_tma_gpr4_twentyninth.log
grep "x 256\|x 64 " $OUT/prefill_tasks_tma_gpr4_twentyninth.log | cut -c1-120; echo "== gpr 4 ($SECONDS s)"
bash benchmarks/device/sessions/twentyseventh_staggered.sh twentyninth
