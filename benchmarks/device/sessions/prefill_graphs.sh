# One device call (~6 min): the engine-level server tests on CUDA with the piecewise prefill graphs (their own tests
# capture and replay real graphs there), then the serving figures they change: TTFT of new 512- and 2,048-token
# prompts with them and without, the bursts, and batch-1 decode (gpr 1; gpr 4 batch 1 with STEP_HOST=1).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && timeout 240 python3 -m pytest -q -p no:cacheprovider test_prefill_graphs.py test_step_args.py \
  test_engine.py test_scheduler.py test_graph_prefill.py test_prefix_cache.py test_dense_prefill.py test_model.py \
  test_fused_ops.py test_sampling.py 2>&1 | tee $OUT/server_tests.log | tail -3)
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_forward.py -k dense 2>&1 | tail -1
mkdir -p $OUT/s512 $OUT/s2048
timeout 200 python3 benchmarks/bench_serving.py --out $OUT/s512 --gpr 1 --batches 1 16 --tasks 1 16 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/s512/serving.log | grep -E "gpr=" 
timeout 120 python3 benchmarks/bench_serving.py --out $OUT/s2048 --gpr 1 --batches 16 --tasks 1 --ttft-prompt 2048 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/s2048/serving.log | grep -iE "ttft|burst|start"
