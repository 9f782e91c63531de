# Thirty-seventh session (~5 min): the paged attention's two forms by (sequence, KV head) pairs (PREFETCH 64 x 8 up
# to one pair an SM), and the 5-8-row bucket threshold at 4. CUDA tests of the fused ops; attention_decode at batch
# 1, 2, 4, 8 (8 parts included: serving's block tables give batch 1 more parts than its context); serving at batch
# 1 and 4 with the new rule against the 64 x 4 form everywhere, in turns; batch 8 over 3-7 tasks as shipped now.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x tests/server/test_fused_ops.py tests/kernels/test_triton_bucket.py -k \
  "attention or threshold or task or fewer" -p no:cacheprovider 2>&1 | tail -2 | tee $OUT/cuda_tests.log
grep -q " passed" $OUT/cuda_tests.log && ! grep -q "failed" $OUT/cuda_tests.log || exit 4
timeout 120 python3 benchmarks/attention_decode.py --out $OUT --batches 1 2 4 8 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/attention_few_pairs.log
for turn in 1 2; do
  for b in 1 4; do
    timeout 60 python3 benchmarks/device/serving_ab.py few-pairs 1 --batch=$b 2>&1 | grep "^\[\|Error" \
      | tee -a $OUT/serving_attention_few_pairs.log
    timeout 60 python3 benchmarks/device/serving_ab.py 64x4 1 --batch=$b '--attention={"BLOCK_T": 64, "num_warps": 4}' \
      2>&1 | grep "^\[\|Error" | tee -a $OUT/serving_attention_few_pairs.log
  done
done
timeout 80 python3 benchmarks/device/rows8_threshold.py shipped 1 8 3,4,5,6,7 2>&1 | grep "^\[\|Error" \
  | tee -a $OUT/rows8_shipped.log
