# Fifteenth session, ninth to eleventh device calls (~3 min): with the fragment kernel offered (and the v6 choices
# shipped), the op's forward tests and the engine-level server tests on CUDA. (As first run, the server files were
# given -m gpu, which selects none of them, and the forward file hit the timeout while compiling; the two later
# calls ran them as below: 78 and 37 passed.)
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_forward.py 2>&1 | tee $OUT/forward_tests_h200.log | tail -2
SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider tests/server/test_engine.py \
  tests/server/test_multi_step.py tests/server/test_overlap.py tests/server/test_fused_ops.py tests/server/test_step_args.py \
  2>&1 | tee $OUT/engine_gpu_tests_h200.log | tail -3
