# Sixty-first session (H100 or H200, Triton 3.6, ~3 min, .device-carry carried): the one-token kernel's load order.
# Ran at 132b86b, a77cbb9, 0d0ccfa, bdd91ac and 4e547a8 (CODES_FIRST / LOAD_ORDER / X_EARLY lost and were removed in
# 628dd48; the script needs one of those commits).
# First run: CODES_FIRST (now LOAD_ORDER 1; its "2" then, the slot asked for twice, lost and is gone). Second: a
# volatile LOAD_ORDER 2 (12.8 against 7.4 us: strong loads) and PREFETCH 3 (8.9: the LUT behind a bigger burst).
# Third: LOAD_ORDER 2 as a CTA barrier between the LUT's loads and the codes': block 0 unchanged (3.27 against 3.24
# us), so the LUT is not queued behind the codes. This run: X_EARLY, x asked of L1 by prefetch at the start (the
# first block's x is otherwise a third DRAM round trip after the slot's and the LUT's): block 0 ~0.5 us earlier.
# 2. sixtyfirst_codes_first.py: the configs with each order and prefetch, the op and cuBLAS in turns, three shapes.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 benchmarks/decode_timeline.py --out $OUT --shapes 4096x4096 --gpr 1,4 --configs bn4-w2,bn4-w2-x,bn8-w4,bn8-w4-x,bn8-w4-o1-x 2>&1 | grep -v -i warn | tail -8
timeout 300 python3 benchmarks/device/sessions/sixtyfirst_codes_first.py 2>&1 | grep -v -i warn | grep -v PREFETCH
