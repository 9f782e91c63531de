# Fourteenth session, fifth device call (~8 min): the last kernel test file the fourth call's timeout cut, the
# GPU-marked server tests with the v4 choices (HALF2 at one token), then the late compiles again with the earlier
# variants' values of each differing field.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_forward.py 2>&1 | tee $OUT/kernel_tests_forward_h200.log | tail -2
SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider -m gpu tests/server 2>&1 | tee $OUT/server_gpu_tests_h200.log | tail -3
timeout 150 python3 benchmarks/startup_compiles.py --gpr 1 --tasks 16 2>&1 | tee $OUT/startup_compiles_earlier_h200.log \
  | grep -E "compile in|earlier|compiles at"
