# Thirty-eighth session (~7 min): ONE_FOLD for the wgmma form of the bucket kernel (32-64 rows; on by default only for
# the WIDE form so far): its CUDA reference cases with it, the five 7B shapes at 64 tokens over 16 tasks in turns
# (choice_ab.py, gpr 1 and 4, off / on), then serving 64 x 16 at gpr 1 off / on, two turns.
# (Its test, which forced ONE_FOLD 1, became test_the_wgmma_form_folding_in_its_loop_matches_the_reference, forcing 0,
# once ONE_FOLD was on by default.)
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -p no:cacheprovider \
  -k "wgmma_form_folding_once_after" 2>&1 | tail -2 | tee $OUT/cuda_tests_one_fold_wgmma.log
grep -q " passed" $OUT/cuda_tests_one_fold_wgmma.log && ! grep -q "failed" $OUT/cuda_tests_one_fold_wgmma.log || exit 4
timeout 200 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 64 --tasks 16 --flag ONE_FOLD \
  --values 0,1 --rounds 3 2>&1 | grep -v "Warn\|warn_once" | tee -a $OUT/one_fold_wgmma_ab.log
for turn in 1 2; do
  for f in 0 1; do
    timeout 100 python3 benchmarks/device/serving_ab.py one-fold-$f 1 --batch=64 "--wgmma={\"ONE_FOLD\": $f}" 2>&1 \
      | grep "^\[\|Error" | tee -a $OUT/serving_one_fold_wgmma_gpr1.log
  done
done
