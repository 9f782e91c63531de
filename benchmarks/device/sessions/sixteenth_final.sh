# Sixteenth session, fifth device call (~8 min): the kernel table with the v7 choices (X_VEC among the one-token
# candidates; 11008x4096's one-token shapes tune here, the caches come back for kernels/tuned/), then the op's forward
# tests and the engine-level server tests on CUDA with them.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
export SKETCHSERVE_CACHE=$OUT/cache
timeout 300 python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log | grep -E "M=   1 T= 1:" | cut -c1-150
unset SKETCHSERVE_CACHE
SKETCHSERVE_CACHE=/tmp/testcache timeout 220 python3 -m pytest -q -p no:cacheprovider tests/server/test_engine.py \
  tests/server/test_multi_step.py tests/server/test_overlap.py tests/server/test_fused_ops.py tests/server/test_step_args.py \
  2>&1 | tee $OUT/engine_gpu_tests_h200.log | tail -2
