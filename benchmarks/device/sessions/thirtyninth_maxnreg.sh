# Thirty-ninth session (~6 min): the 16-row WIDE choices (gpr 1's) capped at 112 registers: 116 with ONE_FOLD, so
# 8 programs of 2 warps an SM; 112 (no spills under Triton 3.6 for sm_90) fits 9. The kernels at 16 x 16 in turns
# (choice_ab, the five 7B shapes, gpr 1 and 4: the 32-row gpr 4 choices keep 4 programs an SM either way), then
# serving 16 x 16 at gpr 1 with and without it, in turns.
source benchmarks/device/prep.sh >/dev/null
timeout 240 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag maxnreg \
  --values 0,112 --rounds 3 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/maxnreg112_ab.log | tail -12
for turn in 1 2; do
  timeout 80 python3 benchmarks/device/serving_ab.py shipped 1 2>&1 | grep "^\[\|Error" | tee -a $OUT/serving_maxnreg112.log
  timeout 80 python3 benchmarks/device/serving_ab.py maxnreg112 1 --wide='{"maxnreg": 112}' 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_maxnreg112.log
done
