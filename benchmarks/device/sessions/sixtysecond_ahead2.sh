# Sixty-second session, second run (H100, Triton 3.6, ~5 min, carry .device-carry): the fragment kernel's chunks
# stamped with AHEAD 0-3 at 4 tokens (gpr 4) and 16 (gpr 1) on 4096x4096, then the 8-warp split-K-8 config and its
# neighbours with AHEAD 0-3 in turns on the three shapes (sixtysecond_ahead.py h100), then the stamped copy's CUDA test.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 150 python3 benchmarks/decode_timeline_mma.py --out $OUT/mma4 --m 4 --gpr 4 \
  --configs w8-r1-wpl4-s8,w8-r1-wpl4-s8-a1,w8-r1-wpl4-s8-a2,w8-r1-wpl4-s8-a3,w2-r1-wpl4-s8,w2-r1-wpl4-s8-a2,w2-r1-wpl4-s8-a3 \
  2>&1 | grep -v -i warn | tail -7
timeout 80 python3 benchmarks/decode_timeline_mma.py --out $OUT/mma16 --m 16 --gpr 1 \
  --configs w2-r2-wpl2-s8,w2-r2-wpl2-s8-a2,w2-r2-wpl2-s8-a3 2>&1 | grep -v -i warn | tail -3
timeout 300 python3 benchmarks/device/sessions/sixtysecond_ahead.py h100 2>&1 | grep -v -i warn | tail -40
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_decode_timeline.py 2>&1 | tail -2
