# One device call (~4 min): the engine-level server tests on CUDA (prefill attention by lower-right CausalBias),
# then the serving figures that prefill attention moves: TTFT of 512 and 2,048 tokens, the bursts, at gpr 1.
source benchmarks/device/prep.sh
(cd tests/server && timeout 200 python3 -m pytest -q -p no:cacheprovider test_engine.py test_scheduler.py test_graph_prefill.py \
  test_prefix_cache.py test_dense_prefill.py test_model.py test_fused_ops.py test_sampling.py 2>&1 | tee $OUT/server_tests.log | tail -3)
mkdir -p $OUT/long
timeout 150 python3 benchmarks/bench_serving.py --out $OUT --gpr 1 --batches 1 16 --tasks 1 16 --bandwidth 4.25e12 \
  --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log | grep -E "tok/s|TTFT|burst|start"
timeout 100 python3 benchmarks/bench_serving.py --out $OUT/long --gpr 1 --batches 16 --tasks 1 --ttft-prompt 2048 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/long/serving.log | grep -E "TTFT|burst"
