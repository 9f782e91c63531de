# Seventy-sixth session, second call (~6 min, on the machine the first call warmed): the gpr-4 decode step A/B of
# seventysixth_pdl_step.sh again, in turns (its "new" side had run past 75 s there, compiling cold), then the host
# plan in its final form (HOST_PLAN_FUSED_MEAN_RUN; seventysecond_host_plan.py quick) within $1 seconds (default 300)
# -> $OUT/pdl_step_gpr4.log, $OUT/host_plan.json, $OUT/host_plan.log
source benchmarks/device/prep.sh >/dev/null
for turn in 1 2; do
  for side in new old; do
    flag=$([ $side = old ] && echo --all-stages-pdl)
    timeout 90 python3 benchmarks/device/serving_ab.py $side 4 --batch=1 $flag 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/pdl_step_gpr4.log
  done
done
timeout "${1:-300}" python3 benchmarks/device/sessions/seventysecond_host_plan.py quick 2>&1 | grep -v -i "warn" \
  | tee $OUT/host_plan.log
