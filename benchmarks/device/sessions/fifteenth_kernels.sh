# Fifteenth session, fourth device call (~7 min): the register-LUT tests on CUDA (the byte tables now one prmt each,
# the prefetch depths, every candidate), and only if they pass, the kernel table with the v5 candidates (the one-token
# shapes tune again: register-prefetch configs offered); the autotuner's cache comes back in $OUT/cache.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
export SKETCHSERVE_CACHE=$OUT/cache
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_prmt_lut.py 2>&1 | tee $OUT/prmt_tests_h200.log | tail -2 \
  || { echo "prmt tests failed"; exit 1; }
timeout 330 python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log | grep -E "^decode .* M=  (1|16) "
