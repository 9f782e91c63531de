# One device call (~8 min): the fused decoder kernels (server/triton_fused.py: norms, RoPE + cache writes, SwiGLU,
# paged decode attention) on CUDA, then their effect on the decode step: the serving benchmark at batch 1 and 16
# (1 and 16 tasks, gpr 4, 128-token prompts) and with 2,048-token prompts (attention reads the whole context),
# with SKETCHSERVE_FUSED_OPS=1, then =0.
source benchmarks/device/prep.sh
nvidia-smi --query-gpu=name --format=csv,noheader
set -o pipefail
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/server/test_fused_ops.py 2>&1 | tee $OUT/fused_tests.log | tail -3
for fused in 1 0; do
  SKETCHSERVE_FUSED_OPS=$fused timeout ${SERVE_TIMEOUT:-150} python3 benchmarks/bench_serving.py --out $OUT/fused$fused \
    --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 --gpr 4 --batches 1 16 --tasks 1 16 2>&1 \
    | tee $OUT/serving_fused$fused.log | grep "tok/s"
  SKETCHSERVE_FUSED_OPS=$fused timeout ${LONG_TIMEOUT:-100} python3 benchmarks/bench_serving.py \
    --out $OUT/fused$fused/long --bandwidth 4.25e12 --memory-gb 139 --new-tokens 16 --prompt 2048 --gpr 4 \
    --batches 1 16 --tasks 1 2>&1 | tee $OUT/serving_long_fused$fused.log | grep "tok/s"
done
