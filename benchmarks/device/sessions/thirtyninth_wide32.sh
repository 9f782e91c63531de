# Thirty-ninth session (~4 min): the WIDE form offered for 17-32 tokens in 16-token tiles (beside the wgmma form):
# its CUDA reference cases with several 16-token tiles (64 and 40 tokens), then the 32-token keys tuned again over
# the candidates with it (retune_one_fold.sh 32: each key's old and new choice in turns, serving 32 x 16 at gpr 1
# and 4 with the new choices).
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_bucket_wgmma.py \
  -k "test_the_wide_form_matches_the_reference and (3 or 4)" 2>&1 | tail -2 | tee $OUT/cuda_tests_wide32.log
bash benchmarks/device/retune_one_fold.sh 32
