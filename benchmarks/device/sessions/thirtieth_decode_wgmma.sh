# Thirtieth session (~6 min): the wgmma prefill kernel's TMA form with split-K (SPLIT_K) for few tokens of one task:
# its CUDA split tests, then benchmarks/decode_wgmma_grid.py (gpr 1, 4 / 8 / 16 tokens, the three bar shapes) against
# the shipped op and cuBLAS. Prediction: 16 tokens on 4096x4096 ~14 -> 7-9 us (lookups ~7.5 instructions a weight,
# all programs resident; the shipped tensor-core register-LUT kernel moves its tile through shared memory), 4 tokens
# ~12 -> 7-9 us; if so the one-task decode path for 4-16 tokens is the next integration.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x tests/kernels/test_prefill_wgmma.py -k split 2>&1 | tail -15 > $OUT/cuda_tests_split_thirtieth.log
tail -3 $OUT/cuda_tests_split_thirtieth.log
timeout 300 python3 benchmarks/decode_wgmma_grid.py --out $OUT --gpr 1 2>&1 | grep -v "Warn\|warn_once" > $OUT/decode_wgmma_grid_gpr1_thirtieth.log
grep -v "^failed" $OUT/decode_wgmma_grid_gpr1_thirtieth.log | cut -c1-330; grep -c "^failed" $OUT/decode_wgmma_grid_gpr1_thirtieth.log
