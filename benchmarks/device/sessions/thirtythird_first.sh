# Thirty-third session, first call (~10 min): the WIDE CUDA tests (BLOCK_K 128 and 256, PRMT: their first full run);
# the 16-token bucket keys (gpr 1 and 4, with the fused serving shapes) tuned again over the 13 WIDE_OP_CANDIDATES
# (BLOCK_K 128 and 256, PRMT among them); serving 16 x 16 at gpr 1 and 4 with the re-tuned choices.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k wide -p no:cacheprovider 2>&1 \
  | tail -4 | tee $OUT/cuda_tests_wide_thirtythird.log
grep -q " passed" $OUT/cuda_tests_wide_thirtythird.log && ! grep -q "failed" $OUT/cuda_tests_wide_thirtythird.log \
  || exit 4
cp kernels/tuned/NVIDIA_H200.v8.json /tmp/shipped.json
drop_shipped "bucket|16,"
SKETCHSERVE_CACHE=$OUT/cache timeout 250 python3 benchmarks/device/retune_keys.py /tmp/shipped.json 16 \
  thirtythird 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_retune_thirtythird.log | cut -c1-230
cp $OUT/cache/autotune/*.json $OUT/ 2>/dev/null
for g in 1 4; do
  SKETCHSERVE_CACHE=$OUT/cache timeout 85 python3 benchmarks/device/serving_point.py retuned $g 16 2>&1 \
    | grep "^\[" | tee $OUT/serving_retuned_gpr${g}_thirtythird.log
done
rm -rf $OUT/cache
