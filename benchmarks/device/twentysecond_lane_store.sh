# Next session (~6 min): the fragment kernel's LANE_STORE (each accumulator stored from its lanes, no layout
# conversion: sm_90 epilogue barriers 14 -> 3 at 1 tile, 38 -> 3 at 2 tiles x 2 row blocks; registers 71 -> 64 and
# 135 -> 113), written in the twenty-first session after its device time ran out. CUDA tests, then the shipped
# 2-, 4- and 16-token choices with the flag off and on (choices of other kernels read ~1.0x).
# Prediction: the fragment kernel's shapes 5-15 % faster at 4 and 16 tokens (its split-K epilogue held 39 % of the
# stall samples at 16 tokens, nineteenth session).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -x tests/kernels/test_triton_mma.py 2>&1 | tail -2
for m in 4 16 2; do
  timeout 150 python3 benchmarks/choice_ab.py --out $OUT --flag LANE_STORE --m $m --rounds 3 2>&1 | grep -v Warn \
    | tee $OUT/choice_ab_m${m}_lane_store_h200.log
done
