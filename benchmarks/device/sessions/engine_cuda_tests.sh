# Written in the thirty-seventh session for the next (~4 min): the engine-level server tests on CUDA after that
# session's two decode changes, which only kernel-level CUDA tests and serving benchmarks (no token checks) ran:
# the paged attention's PREFETCH form up to two (sequence, KV head) pairs an SM (every tiny-model decode on CUDA takes
# it) and the bucket kernel from 4 tasks up to 8 rows on sm_90.
source benchmarks/device/prep.sh >/dev/null
(cd tests/server && timeout 400 python3 -m pytest -q -p no:cacheprovider test_engine.py test_overlap.py \
  test_multi_step.py test_graph_prefill.py test_prefill_graphs.py test_fused_ops.py 2>&1 | tail -4 \
  | tee $OUT/engine_cuda_tests.log)
