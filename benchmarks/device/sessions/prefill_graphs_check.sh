# One device call (~4 min): the prefill graphs' tests again (after a CPU-engine mix-up in the test), then the serving
# table's gpr 4 points that the packed step inputs (StepArgs) may move: batch 1 and 16, 1 and 16 tasks.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && timeout 150 python3 -m pytest -q -p no:cacheprovider test_prefill_graphs.py test_step_args.py \
  test_graph_prefill.py 2>&1 | tee $OUT/server_tests.log | tail -3)
timeout 200 python3 benchmarks/bench_serving.py --out $OUT --gpr 4 --batches 1 16 --tasks 1 16 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log | grep -E "gpr="
