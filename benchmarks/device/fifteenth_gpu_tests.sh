# Fifteenth session, ninth device call (~5 min): with the fragment kernel offered (and the v6 choices shipped),
# the op's forward tests and the engine-level server tests on CUDA.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 110 python3 -m pytest -q -p no:cacheprovider -x tests/kernels/test_triton_forward.py 2>&1 | tee $OUT/forward_tests_h200.log | tail -2
SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/server/test_engine.py \
  tests/server/test_multi_step.py tests/server/test_overlap.py tests/server/test_fused_ops.py tests/server/test_step_args.py \
  2>&1 | tee $OUT/engine_gpu_tests_h200.log | tail -3
