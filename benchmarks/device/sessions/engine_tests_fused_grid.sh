# One device call (~8 min): the engine-level server tests on CUDA (the eighth session's last change, the prefill
# SDPA backends set once per forward, had only run on the CPU), then the one-token register-LUT kernel's grid on the
# fused projections' shapes at gpr 4 (decode_grid.py --fused 1): the shapes behind the gpr 4 batch-1 figure.
source benchmarks/device/prep.sh
set -o pipefail
(cd tests/server && timeout 300 python3 -m pytest -q -p no:cacheprovider test_engine.py test_scheduler.py \
  test_graph_prefill.py test_prefix_cache.py test_dense_prefill.py test_model.py test_fused_ops.py test_sampling.py \
  2>&1 | tee $OUT/server_tests.log | tail -4)
timeout 240 python3 benchmarks/decode_grid.py --out $OUT --m 1 --fused 1 --budget-s 120 2>&1 \
  | tee $OUT/decode_grid_fused.log | grep -A8 "^best"
