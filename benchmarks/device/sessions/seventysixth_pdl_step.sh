# Seventy-sixth session (one call, any kind; ~8 min): a decode step at batch 1 (the random 7B-shaped engine) with
# the one-token kernel's 2-stage choices off PDL (the seventy-fifth session's rule, "new") against every config
# with PDL ("old", --all-stages-pdl), in turns, one process a side, gpr 4 then 1; then the op as served
# (seventyfifth_as_served.sh) in what is left of $1 seconds (default 560)
# -> $OUT/pdl_step_gpr{4,1}.log, $OUT/linear_as_served_<gpu>.*
source benchmarks/device/prep.sh >/dev/null
end=$((SECONDS + ${1:-560}))
for gpr in 4 1; do
  for turn in 1 2; do
    timeout 75 python3 benchmarks/device/serving_ab.py new $gpr --batch=1 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/pdl_step_gpr$gpr.log
    timeout 75 python3 benchmarks/device/serving_ab.py old $gpr --batch=1 --all-stages-pdl 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/pdl_step_gpr$gpr.log
  done
done
left=$((end - SECONDS - 10))
[ $left -gt 60 ] && bash benchmarks/device/sessions/seventyfifth_as_served.sh $left
