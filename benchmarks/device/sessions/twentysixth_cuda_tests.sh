# Twenty-sixth session, fourth call (~6 min): the CUDA tests of tests/server (the HTTP files too: carry_wheels.sh's
# wheels, now with the openai client of the real-socket test), tests/adapters and tests/kernels/test_pdl.py. Files
# whose imports the device lacks (schemathesis for the OpenAPI fuzz) are reported as collection errors, not run.
source benchmarks/device/prep.sh >/dev/null
python3 -V
timeout 540 python3 -m pytest -q -p no:cacheprovider --continue-on-collection-errors tests/server tests/adapters \
  tests/kernels/test_pdl.py 2>&1 | grep -v "Warn\|warn_once" > $OUT/cuda_tests_h200_twentysixth.log
grep -E "passed|failed|^ERROR|^FAILED" $OUT/cuda_tests_h200_twentysixth.log | tail -15
