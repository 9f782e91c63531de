# Twenty-first session (~3 min): the 2-4-token register-LUT kernel at 2 tokens of one task, gpr 4, on the five 7B
# shapes against the op as shipped and cuBLAS (the gpr-1 grid: it won on 4096x4096 and 4096x11008 only).
source benchmarks/device/prep.sh >/dev/null
timeout 300 python3 benchmarks/mma_grid.py --out $OUT --kernel prmt_tokens --gpr 4 --budget-s 30 --fused 1 \
  --cases 2x1 2>&1 | grep -v Warn | tee $OUT/prmt_tokens_grid_gpr4_h200.log
