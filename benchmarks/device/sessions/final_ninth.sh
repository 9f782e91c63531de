# One device call (~8 min): the engine-level server tests on CUDA (the fused path's deferred residual add runs only
# there for real), then the serving table's batch 1 / 16 points at gpr 1 and 4 with 1 and 16 tasks, and the TTFTs.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && timeout 200 python3 -m pytest -q -p no:cacheprovider test_prefill_graphs.py test_step_args.py \
  test_engine.py test_graph_prefill.py test_prefix_cache.py test_dense_prefill.py test_model.py test_fused_ops.py \
  2>&1 | tee $OUT/server_tests.log | tail -2)
timeout 330 python3 benchmarks/bench_serving.py --out $OUT --gpr 1 4 --batches 1 16 --tasks 1 16 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log | grep -E "gpr="
