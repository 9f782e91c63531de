# Thirty-eighth session (~9 min): ONE_FOLD, the WIDE bucket kernel's fold after its K loop where a program's K range
# lies in one LUT group (every 16-token choice of the H200): its CUDA tests (both forms of the fold), the five 7B
# shapes in turns (choice_ab.py, gpr 1 and 4, off / on), then serving 16 x 16 at gpr ${1:-1} off / on, two turns.
source benchmarks/device/prep.sh >/dev/null
g=${1:-1}
if [ "$g" = 1 ]; then
  timeout 300 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -p no:cacheprovider \
    -k "fold or (wide_form_matches_the_reference and (0 or 1 or 2 or 5))" 2>&1 | tail -2 | tee $OUT/cuda_tests_one_fold.log
  grep -q " passed" $OUT/cuda_tests_one_fold.log && ! grep -q "failed" $OUT/cuda_tests_one_fold.log || exit 4
  timeout 200 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag ONE_FOLD \
    --values 0,1 --rounds 3 2>&1 | grep -v "Warn\|warn_once" | tee -a $OUT/one_fold_ab.log
fi
for turn in 1 2; do
  for f in 0 1; do
    timeout 90 python3 benchmarks/device/serving_ab.py one-fold-$f $g "--wide={\"ONE_FOLD\": $f}" 2>&1 \
      | grep "^\[\|Error" | tee -a $OUT/serving_one_fold_gpr$g.log
  done
done
