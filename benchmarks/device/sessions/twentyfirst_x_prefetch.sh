# Twenty-first session (~5 min): X_PREFETCH in the one-token kernel (x's pairs of each block loaded with the codes,
# a block ahead) on its shipped choices, off and on in turns; then its CUDA tests.
# Prediction: x's per-block load is an L2 round trip (~0.5 us) on each of 4 blocks' critical path: 4096x4096
# 7.4 -> ~6.5 us, the larger shapes 5-10 % less.
source benchmarks/device/prep.sh >/dev/null
timeout 300 python3 benchmarks/prmt_ab.py --out $OUT --flag X_PREFETCH --rounds 3 2>&1 | grep -v Warn \
  | tee $OUT/prmt_ab_x_prefetch_h200.log
timeout 200 python3 -m pytest -q -x tests/kernels/test_prmt_lut.py -k matches_the_reference 2>&1 | tail -2
