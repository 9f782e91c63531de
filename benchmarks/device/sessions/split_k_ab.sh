# Thirty-sixth session: the 16 x 16 WIDE choices' SPLIT_K (4 everywhere, shipped) against 2 and 8, and ROWS 32 -> 16
# on 2 warps, in turns on the five 7B shapes (choice_ab.py), gpr 1 and 4. The LUT reads of the fold scale with the
# split (each K range folds its partial with the rows' whole LUT at gpr 1): 22016x4096 reads ~90 MB of LUT at split 4.
source benchmarks/device/prep.sh >/dev/null
for v in 4,2 4,8; do
  timeout 200 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag SPLIT_K --values $v \
    --rounds 3 2>&1 | grep -v "Warn\|warn_once" | tee -a $OUT/split_k_ab.log
done
