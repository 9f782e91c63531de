# Sixteenth session, sixth device call (~5 min): the one-token kernel with X_VEC under HALF2 over a wider grid:
# 4-row blocks, blocks of 2,048 and 4,096 columns (fewer blocks a program: the codes in flight before the slot ->
# LUT chain) and prefetch depths 1-3, gpr 1, at the fused 7B shapes (8 x 1,024, prefetch 1 is the current best:
# 7.5 us at 4096x4096).
source benchmarks/device/prep.sh >/dev/null
timeout 420 python3 benchmarks/decode_grid.py --out $OUT --m 1 --fused 1 --modes prmt_h2xv --prefetch 1,2,3 \
  --stages 1 --gpr 1 --budget-s 240 > $OUT/grid_one_token_wide_gpr1.log 2>&1; grep -A6 "^best" $OUT/grid_one_token_wide_gpr1.log
