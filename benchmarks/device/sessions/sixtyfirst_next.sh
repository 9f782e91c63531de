# Prepared in the sixty-first session for the next (H100 or H200, Triton 3.6, ~6 min, carry .device-carry):
# 1. gpr 4's group boundaries: the stamped one-token kernel with each later group's tables stamped (PARTS), with
#    and without their entries a group ahead (AHEAD). Prediction: without AHEAD the tables come 0.3-0.6 us after
#    the block before ends, with it under 0.1 us.
# 2. LATE: blocks 2 .. PREFETCH asked for once the first tables are built. The stamped copy at gpr 1 and 4, then
#    the real kernel in turns on the three shapes (sixtyfirst_late.py), then its CUDA cases. Prediction: block 0
#    unchanged, blocks 1-3 every 0.6-0.7 us instead of ~1.0, 0.4-0.7 us off at 4096x4096.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 120 python3 benchmarks/decode_timeline.py --out $OUT/groups --shapes 4096x4096 --gpr 4 \
  --configs bn8-w4,bn8-w4-parts,bn8-w4-parts-ahead,bn8-w4-ahead 2>&1 | grep -v -i warn | tail -4
timeout 150 python3 benchmarks/decode_timeline.py --out $OUT/late --shapes 4096x4096 --gpr 1,4 \
  --configs bn8-w4,bn8-w4-p2-late,bn8-w4-p3-late,bn4-w2,bn4-w2-p2-late,bn8-w4-p3 2>&1 | grep -v -i warn | tail -12
timeout 200 python3 benchmarks/device/sessions/sixtyfirst_late.py 2>&1 | grep -v -i warn | tail -8
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py -k late \
  tests/kernels/test_decode_timeline.py 2>&1 | tail -3
# 3. The fragment kernel (4-16 tokens of one task) chunk by chunk (decode_timeline_mma.py): do its chunks come one
#    DRAM round trip apart (~1 us: the chunks-in-turn path loads each chunk's words as it looks them up), and how
#    long do the split-K arrival and the last program's sum take?
timeout 150 python3 benchmarks/decode_timeline_mma.py --out $OUT/mma4 --m 4 --gpr 4 2>&1 | grep -v -i warn | tail -4
timeout 100 python3 benchmarks/decode_timeline_mma.py --out $OUT/mma16 --m 16 --gpr 1 \
  --configs w2-r2-wpl2-s8,w4-r1-wpl4-s4 2>&1 | grep -v -i warn | tail -2
