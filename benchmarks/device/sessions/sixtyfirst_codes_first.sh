# Sixty-first session (H100, Triton 3.6, ~3 min, .device-carry carried): CODES_FIRST on the one-token kernel.
# 1. decode_timeline.py with and without it (4096x4096 at gpr 1 and 4; a first run also took 11008x4096 at gpr 1): block 0 should end
#    ~0.5 us earlier if the codes' requests no longer wait on the slot's round trip.
# 2. sixtyfirst_codes_first.py: three configs plain and with it, the op and cuBLAS in turns on the three shapes.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 benchmarks/decode_timeline.py --out $OUT --shapes 4096x4096 --gpr 1,4 2>&1 | grep -v -i warn | tail -8
timeout 300 python3 benchmarks/device/sessions/sixtyfirst_codes_first.py 2>&1 | grep -v -i warn | grep -v PREFETCH
