# Thirty-sixth session (~7 min): the WIDE bucket kernel's early PDL release (RELEASE 1: after the wait, 2: at the
# last K block): its CUDA tests, then serving 16 x 16 shipped / RELEASE 1 / RELEASE 2 in turns at gpr ${1:-1};
# rope_and_store's one-program-a-token grid (before) in the same turns; the paged decode attention's configs (more
# warps, stages, chunks: attention_decode.py) first.
source benchmarks/device/prep.sh >/dev/null
g=${1:-1}
if [ "$g" = 1 ]; then
  timeout 240 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "releasing_the_next_kernel" \
    -p no:cacheprovider 2>&1 | tail -2 | tee $OUT/cuda_tests_release.log
  grep -q " passed" $OUT/cuda_tests_release.log && ! grep -q "failed" $OUT/cuda_tests_release.log || exit 4
  timeout 120 python3 benchmarks/attention_decode.py --out $OUT --batches 16 64 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/attention_decode.log
fi
for turn in 1 2; do
  timeout 90 python3 benchmarks/device/serving_ab.py rope-one-chunk $g --rope-one-chunk 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_release_gpr$g.log
  for r in 0 1 2; do
    timeout 90 python3 benchmarks/device/serving_ab.py release-$r $g "--wide={\"RELEASE\": $r}" 2>&1 \
      | grep "^\[\|Error" | tee -a $OUT/serving_release_gpr$g.log
  done
done
