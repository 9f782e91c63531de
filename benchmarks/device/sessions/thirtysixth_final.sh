# Thirty-sixth session's last call (~3 min): the fused ops' CUDA tests (rope_and_store's head chunks, the attention's
# 64-token, 2-stage config at head dim 128), the attention configs at batch 1 and 16, then the serving table at
# gpr 1 and 4 with the session's defaults (RELEASE 1, rope chunks, attention 64 x 4 x 2 stages).
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x tests/server/test_fused_ops.py -p no:cacheprovider 2>&1 | tail -2 \
  | tee $OUT/cuda_tests_fused_ops.log
timeout 60 python3 benchmarks/attention_decode.py --batches 1 16 --contexts 160 1024 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/attention_decode_b1.log
for g in 1 4; do
  mkdir -p $OUT/gpr$g
  timeout 150 python3 benchmarks/bench_serving.py --out $OUT/gpr$g --gpr $g --bandwidth 4.25e12 --memory-gb 139 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/serving_gpr$g.log | grep "batch=\|TTFT 512\|residency"
done
