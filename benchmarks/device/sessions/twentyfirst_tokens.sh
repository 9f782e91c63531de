# Twenty-first session (~7 min): the 2-4-token register-LUT kernel (kernels/triton_decode_prmt_tokens.py). Its CUDA
# tests (the compiled asm against the reference), then its grid at 2 and 4 tokens of one task (and 4 over 2 tasks)
# on the five 7B shapes against the op as shipped (fragment kernel) and cuBLAS.
# Prediction: 4 tokens of one task 12.2 -> ~9 us on 4096x4096, ~20 (as now) on 11008x4096.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x tests/kernels/test_triton_prmt_tokens.py tests/kernels/test_prmt_lut.py 2>&1 | tail -3
timeout 360 python3 benchmarks/mma_grid.py --out $OUT --kernel prmt_tokens --gpr 1 --budget-s 60 --fused 1 2>&1 \
  | grep -v Warn | tee $OUT/prmt_tokens_grid_gpr1_h200.log
