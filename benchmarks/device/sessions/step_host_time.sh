# One device call (~3 min): the engine-level server tests on CUDA, then where a decode step's time goes beyond its
# graph's GPU time (benchmarks/decode_host_time.py) at batch 1 and 16, gpr 4.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && timeout 300 python3 -m pytest -q -p no:cacheprovider test_engine.py test_scheduler.py \
  test_graph_prefill.py test_prefix_cache.py test_dense_prefill.py test_model.py test_fused_ops.py test_sampling.py \
  test_step_args.py 2>&1 | tee $OUT/server_tests.log | tail -3)
for b in 1 16; do
  timeout 200 python3 benchmarks/decode_host_time.py --gpr 4 --batch $b 2>&1 | grep -v Warn > $OUT/host_b$b.log
  head -1 $OUT/host_b$b.log
done
