# Thirty-seventh session (~4 min): the prefetching attention up to two (sequence, KV head) pairs an SM (batch 8 at
# 7B) against 64 x 4 in serving at batch 8 over 8 tasks, in turns; then the serving table at gpr 1 with a warm Triton
# cache (the start-up figures of the last table were taken while changed kernels compiled).
source benchmarks/device/prep.sh >/dev/null
for turn in 1 2; do
  timeout 60 python3 benchmarks/device/serving_ab.py few-pairs 1 --batch=8 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_attention_batch8.log
  timeout 60 python3 benchmarks/device/serving_ab.py 64x4 1 --batch=8 '--attention={"BLOCK_T": 64, "num_warps": 4}' \
    2>&1 | grep "^\[\|Error" | tee -a $OUT/serving_attention_batch8.log
done
mkdir -p $OUT/gpr1
timeout 200 python3 benchmarks/bench_serving.py --out $OUT/gpr1 --gpr 1 --bandwidth 4.25e12 --memory-gb 139 2>&1 \
  | grep -v "Warn\|warn_once" | tee $OUT/serving_gpr1.log | grep "batch=\|TTFT 512\|residency\|start"
