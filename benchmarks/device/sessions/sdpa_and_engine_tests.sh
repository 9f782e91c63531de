# One device call (~4 min): SDPA backends incl. the lower-right CausalBias (sdpa_backends.py), then the engine-level
# server tests on CUDA (the API tests need fastapi's opentelemetry extra, missing there: they run in CI on the CPU).
source benchmarks/device/prep.sh
timeout 60 python3 benchmarks/sdpa_backends.py 2>&1 | grep -v Warn | grep -E "gqa=" | tee $OUT/sdpa_7b.log
timeout 60 python3 benchmarks/sdpa_backends.py --heads 9 --kv-heads 3 --head-dim 64 2>&1 | grep -E "gqa=" | tee $OUT/sdpa_smol.log
cd tests/server && timeout 400 python3 -m pytest -q -p no:cacheprovider test_engine.py test_scheduler.py test_graph_prefill.py \
  test_prefix_cache.py test_dense_prefill.py test_model.py test_fused_ops.py test_sampling.py 2>&1 | tee $OUT/server_tests.log | tail -4
