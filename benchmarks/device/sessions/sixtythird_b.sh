# Sixty-third session, second call (~9 min, carry .device-carry): X_FIRST's and EARLY's CUDA tests, then X_FIRST
# against PRELOAD at 4-16 tokens over 1-4 tasks (sixtysecond_x_first.py) and EARLY after the fused norm
# (sixtysecond_early.py: the H100 file's AHEAD 2-3 choices, EARLY 0 against 1, on whichever GPU came).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py -k "preloaded or early" 2>&1 | tail -2
timeout 240 python3 benchmarks/device/sessions/sixtysecond_x_first.py 2>&1 | grep -v -i warn | tail -16
timeout 150 python3 benchmarks/device/sessions/sixtysecond_early.py 2>&1 | grep -v -i warn | tail -6
