# Thirteenth session, last device call (~8 min): the prefill pieces' token test with overlapped scheduling (decode
# rows fed on the device beside a graph-prefilled chunk) on CUDA, then the whole serving table (gpr 1 and 4,
# batches 1 / 16 / 64 over 1 / 4 / 16 tasks) with the new defaults (overlap on, 4 decode steps a plan).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 150 python3 -m pytest -q -p no:cacheprovider \
  test_prefill_graphs.py test_overlap.py 2>&1 | tee $OUT/server_tests_thirteenth_final.log | tail -2)
timeout 420 python3 benchmarks/bench_serving.py --gpr 1 4 --new-tokens 32 --bandwidth 4.25e12 --memory-gb 139 \
  --out $OUT 2>&1 | tee $OUT/serving_h200_thirteenth_full.log | grep -E "tok/s|TTFT|burst|resident" | sed -n 1,40p
