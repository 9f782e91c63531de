# Sixty-second session (H100 or H200, Triton 3.6, ~6 min, carry .device-carry): the fragment kernel's chunks asked
# for ahead (AHEAD 1-3) against the shipped loads, in turns on the three shapes at 4 and 16 tokens, then its CUDA
# tests. Prediction: chunks ~1.5 -> ~0.8 us apart (AHEAD 2) or ~0.5 (AHEAD 3); 4 tokens 4096x4096 gpr 4 10.9 -> ~8 us.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py -k "ahead" 2>&1 | tail -3
timeout 420 python3 benchmarks/device/sessions/sixtysecond_ahead.py 2>&1 | grep -v -i warn | tail -40
