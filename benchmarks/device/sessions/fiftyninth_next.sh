# For the session after the fifty-ninth (H100, the device's Triton 3.6, nothing carried), two calls:
#   bash benchmarks/device/sessions/fiftyninth_next.sh tests   (~6-8 min with a cold cache)
#     the whole wgmma prefill test file on the GPU: CODES_TMA's remaining cases (CUDA_CASES 3-6; cases 0-2 passed
#     in the fifty-ninth session), its split-K cases, and A_AHEAD over CODES_TMA's (never run on a GPU). Then
#     CODES_TMA can be made the PINGPONG tiles' default (as lut_stage does for LUT_STAGE).
#   bash benchmarks/device/sessions/fiftyninth_next.sh grid    (~1.5 min warm)
#     the bar's case (4096x4096, gpr 4, 8 tasks x 256), the shipped tile's variants. Prediction: CODES_TMA
#     108-111 us (109.4 in the fifty-ninth session), A_AHEAD over it 95-105 if both warpgroups' lookups, now
#     waiting on no load, fit under the two MMAs (2M ~ 1,230 cycles a block), else ~CODES_TMA's time or slower.
#   bash benchmarks/device/sessions/fiftyninth_next.sh decode  (~6-8 min: ~190 configs, half of them compiles)
#     the wgmma kernel with split-K at 4 and 16 tokens of one task on 4096x4096 (decode_wgmma_grid.py), each config
#     plain and with CODES_TMA, A_AHEAD over it, and LUT_STAGE over it, in rings of 4 and 8 stages (more bytes of
#     codes in flight an SM, where the tiles are small). The thirtieth session found it waiting on a
#     chain of latencies there (12.6-13.5 us on the H200 whatever the config, against the bar's ~7.6 on the H100).
#     Prediction: CODES_TMA 10-20 % under plain; A_AHEAD and LUT_STAGE a few % more; the bar out of reach unless
#     the best falls below ~8 us.
#   -> $OUT/cuda_tests_prefill_wgmma_t36.log, $OUT/prefill_grid_gpr4_t36.log, $OUT/decode_wgmma_grid_t36.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
if [ "$1" = decode ]; then
  timeout 540 python3 benchmarks/decode_wgmma_grid.py --out $OUT/dg --gpr 1 --tokens 4,16 --shapes 4096x4096 \
    --variants plain,codes,ahead,staged --stages 4,8 2>&1 | grep -v "Warn\|warn_once\|leak\|nanobind" > $OUT/decode_wgmma_grid_t36.log
  grep -v "^WRONG\|^failed" $OUT/decode_wgmma_grid_t36.log | tail -10; grep -c "^WRONG\|^failed" $OUT/decode_wgmma_grid_t36.log
  exit 0
fi
if [ "$1" = grid ]; then
  timeout 200 python3 benchmarks/prefill_grid.py --out $OUT/grid --gpr 4 --shapes 4096x4096 \
    --cases "8 tasks x 256" --kinds wgmma --wgmma-tile 256x128x4 2>&1 | grep -v "Warn\|warn_once" \
    > $OUT/prefill_grid_gpr4_t36.log
  grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed\|rror" $OUT/prefill_grid_gpr4_t36.log | tail -12
  exit 0
fi
timeout ${TEST_S:-560} python3 -m pytest -q -rf -p no:cacheprovider tests/kernels/test_prefill_wgmma.py 2>&1 \
  | grep -v "leak\|nanobind" | tail -15 | tee $OUT/cuda_tests_prefill_wgmma_t36.log
