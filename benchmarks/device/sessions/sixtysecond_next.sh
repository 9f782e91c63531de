# Prepared in the sixty-second session for the next (H100, Triton 3.6, ~8 min: split it in two calls if
# one call's 600 s are short; carry .device-carry):
# 1. the one-task decode keys at 8 tokens tuned with the AHEAD candidates on a fresh cache (the H100 file has none;
#    an H100's first start tunes them); the cache comes back for ship_choices.py --kernels decode;
# 2. the one-token kernel's BN 4 x 2 warps against the shipped BN 8 x 4 warps, in turns (sixtysecond_one_token.py);
# 3. PRELOAD with X_FIRST against PRELOAD (sixtysecond_x_first.py) at 4-16 tokens over 1-4 tasks, and its CUDA tests;
# 4. EARLY (the AHEAD path's first words and tables before the PDL wait) after the fused norm, and its CUDA tests.
# Predictions: 8 tokens 1.5-1.9x cuBLAS with AHEAD choices; BN 4 within 2 % of BN 8 (the 7.18 / 7.42 of one run
# inside the run-to-run spread) unless it wins on both shapes; X_FIRST 10-25 % off PRELOAD at 1-2 tasks (16 words:
# ~16 L2 round trips a slot become ~1), less at 4 tasks (its registers: 144-217 against 96); EARLY after the norm
# 1-2 us off the 4-token choices (their first chunk starts ~3.3 us in: slot -> LUT -> tables), alone unchanged.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
SKETCHSERVE_CACHE=$OUT/cache SKETCHSERVE_SHIPPED_TUNING=0 timeout 300 python3 \
  benchmarks/device/sessions/sixtysecond_retune.py kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json 8 2>&1 | grep -v -i warn | tail -7
timeout 200 python3 benchmarks/device/sessions/sixtysecond_one_token.py 2>&1 | grep -v -i warn | tail -5
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py -k "preloaded or early" 2>&1 | tail -2
timeout 240 python3 benchmarks/device/sessions/sixtysecond_x_first.py 2>&1 | grep -v -i warn | tail -16
timeout 150 python3 benchmarks/device/sessions/sixtysecond_early.py 2>&1 | grep -v -i warn | tail -6
