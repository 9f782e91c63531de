# Twenty-seventh session (~7 min): the fourth grid round (segment tiles, no x masks; 8 warps held to 128 registers:
# two CTAs an SM) at 8 x 256 and 4 x 512 on 4096x4096 and 11008x4096; then the op's new prefill plan
# (kernels/triton_ops.py _planned_segments: dense for one
# or two long runs or long ones, else the register-LUT kernel's segment tiles) on the device. (1) Its CUDA tests.
# (2) prefill_tasks.py at gpr 1 and 4 with the shipped plan, every case, against the previous call's dense-from-64
# and always-fused columns (results/prefill_tasks_gpr{1,4}_twentyseventh.log). The shipped choices' "prefill|"
# entries are dropped from this machine's copy, so the sorted kernel's and the tiles' choices tune here into
# $OUT/cache_gpr{1,4} (for kernels/tuned/). Prediction: every case at or under the better of the two columns (the
# tiles also fix 4 x 96 / 4 x 127 / 4 x 32, where sorted tiles looped over 2-4 slots: 4096x4096 4 x 32 211 -> ~40 us).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 benchmarks/prefill_grid.py --out $OUT --gpr 1 --shapes 4096x4096,11008x4096 --cases "x 256,x 512" \
  --grid-from 28 --budget-s 120 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr1_fourth_twentyseventh.log
grep "^prmt\|best\|cuBLAS\|WRONG\|failed" $OUT/prefill_grid_gpr1_fourth_twentyseventh.log; echo "== grid ($SECONDS s)"
rm -f $OUT/prefill_grid_gpr1.png
timeout 150 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_prefill_tiles.py \
  tests/kernels/test_triton_forward.py -k "prefill or tiles or dense or segments or mixed" 2>&1 | tail -3 \
  > $OUT/cuda_tests_plan_twentyseventh.log
cat $OUT/cuda_tests_plan_twentyseventh.log; echo "== tests ($SECONDS s)"
python3 - <<'PY'
import json, pathlib
p = pathlib.Path("kernels/tuned/NVIDIA_H200.v8.json")
d = json.loads(p.read_text())
p.write_text(json.dumps({k: v for k, v in d.items() if not k.startswith("prefill|")}))
PY
for gpr in 1 4; do
  SKETCHSERVE_CACHE=$OUT/cache_gpr$gpr timeout $((570 - SECONDS < 250 ? 570 - SECONDS : 250)) \
    python3 benchmarks/prefill_tasks.py --out $OUT --gpr $gpr 2>&1 \
    | grep -v "Warn\|warn_once" > $OUT/prefill_tasks_plan_gpr${gpr}_twentyseventh.log
  tail -2 $OUT/prefill_tasks_plan_gpr${gpr}_twentyseventh.log; echo "== gpr $gpr ($SECONDS s)"
done
