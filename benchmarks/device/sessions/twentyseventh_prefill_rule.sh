# Twenty-seventh session (~5 min): the dense path against the register-LUT fused prefill kernel, per case, for the
# op's rule (kernels/triton_ops.py, _dense_segments), and that kernel's tuned choices for kernels/tuned/. The shipped
# choices' "prefill|" entries are dropped from this machine's copy (they were timed before the register-LUT kernel
# was a candidate), so every prefill key tunes here into $OUT/cache_gpr{1,4} (the rest of the shipped file stays).
# prefill_tasks.py at gpr 1 and 4, --dense-min 64 (shipped: dense from 64 tokens) and 1000000 (always fused).
# Prediction (prefill_grid.py: fused ~1.6x cuBLAS at 2,048 tokens, flat in tasks; dense cuBLAS + ~17 us a segment
# on 4096x4096): the fused kernel wins from ~4 segments at 2,048 tokens; the dense path wins every single-segment
# case and every case under ~512 tokens (the fused grid then fills under a wave).
source benchmarks/device/prep.sh >/dev/null
python3 - <<'PY'
import json, pathlib
p = pathlib.Path("kernels/tuned/NVIDIA_H200.v8.json")
d = json.loads(p.read_text())
p.write_text(json.dumps({k: v for k, v in d.items() if not k.startswith("prefill|")}))
PY
for gpr in 1 4; do
  SKETCHSERVE_CACHE=$OUT/cache_gpr$gpr timeout $((560 - SECONDS < 280 ? 560 - SECONDS : 280)) \
    python3 benchmarks/prefill_tasks.py --out $OUT --gpr $gpr --dense-min 64,1000000 2>&1 \
    | grep -v "Warn\|warn_once" > $OUT/prefill_tasks_gpr${gpr}_twentyseventh.log
  tail -3 $OUT/prefill_tasks_gpr${gpr}_twentyseventh.log; echo "== gpr $gpr ($SECONDS s)"
done
