# Sixty-second session (H100, Triton 3.6, ~5 min, carry .device-carry): the fragment kernel's CUDA tests (AHEAD,
# SUM_AT_ONCE), the stamped copy at 4 tokens with the split-K partials summed at once and one split a trip, and
# SUM_AT_ONCE against one split a trip on the shipped H100 choices in turns (sixtysecond_sum.py).
# Prediction: the row tile's last program ends ~1 us sooner (the isolated cluster of end stamps at split-K 8).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py tests/kernels/test_decode_timeline.py 2>&1 | tail -3
timeout 100 python3 benchmarks/decode_timeline_mma.py --out $OUT/mma4 --m 4 --gpr 1 \
  --configs w8-r1-wpl4-s8-a2-o1,w8-r1-wpl4-s8-a2,w2-r1-wpl4-s8-a2-o1,w2-r1-wpl4-s8-a2 2>&1 | grep -v -i warn | tail -4
timeout 80 python3 benchmarks/decode_timeline_mma.py --out $OUT/mma16 --m 16 --gpr 1 \
  --configs w2-r2-wpl2-s8-o1,w2-r2-wpl2-s8 2>&1 | grep -v -i warn | tail -2
timeout 200 python3 benchmarks/device/sessions/sixtysecond_sum.py 2>&1 | grep -v -i warn | tail -20
