# Tenth session, first device call (~7 min): the prefill graphs' CUDA tests with the multi-task extension and the
# engine-level list, then the serving points at gpr 1 (batch 1 / 16, 1 / 16 tasks) with the burst over 16 tasks;
# the autotuner's cache is copied out to see what a tuned H200 chooses.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && timeout 220 python3 -m pytest -q -p no:cacheprovider test_prefill_graphs.py test_step_args.py \
  test_engine.py test_graph_prefill.py test_prefix_cache.py test_dense_prefill.py test_model.py test_fused_ops.py \
  2>&1 | tee $OUT/server_tests.log | tail -3)
timeout 300 python3 benchmarks/bench_serving.py --out $OUT --gpr 1 --batches 1 16 --tasks 1 16 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log | grep -E "gpr=|burst|ttft"
mkdir -p $OUT/autotune && cp ~/.cache/sketchserve/autotune/*.json $OUT/autotune/ 2>/dev/null; ls $OUT/autotune
