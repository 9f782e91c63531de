# Forty-second session: a decode-only step's attention returned as the kernel wrote it, without the copy into a
# buffer (a memcpy node a layer in the 16 x 16 step's graph, 37.5 us a step in the no-PDL profile, and a break in
# the PDL chain between the attention and o_proj). A/B in turns, one process each, gpr 1 then gpr 4; then the
# no-PDL profile again (the memcpy gone).
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do for i in 1 2; do
  timeout 100 python3 benchmarks/device/serving_ab.py copied $g --attention-copy 2>&1 | grep "batch="
  timeout 100 python3 benchmarks/device/serving_ab.py uncopied $g 2>&1 | grep "batch="
done; done | tee $OUT/attention_copy_ab.log
mkdir -p $OUT/steps
SKETCHSERVE_PDL=0 timeout 120 python3 benchmarks/step_kernels.py --gpr 1 --batch 16 --tasks 16 --out $OUT/steps 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/step_kernels_gpr1_nopdl_uncopied.log | tail -12
