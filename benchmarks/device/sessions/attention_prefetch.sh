# Written in the thirty-sixth session for the next (~4 min): the paged decode attention's PREFETCH form (each chunk's
# block-table entries and K / V rows requested a chunk ahead) -- its CUDA tests, attention_decode.py at batch 1, 16
# and 64 (contexts 160 and 1,024) against the shipped 64 x 4, then serving 16 x 16 at gpr 1 with the best prefetch
# config at 16 x 160 against shipped, in turns. Registers (Triton 3.6, sm_90, head dim 128): 32 x 4 253 (no spills),
# 64 x 8 254 (none), 16 x 4 164, 64 x 4 255 + 504 bytes of spills (the shipped 64 x 4: 96 bytes).
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x tests/server/test_fused_ops.py -k attention -p no:cacheprovider 2>&1 | tail -2 \
  | tee $OUT/cuda_tests_attention_prefetch.log
grep -q " passed" $OUT/cuda_tests_attention_prefetch.log && ! grep -q "failed" $OUT/cuda_tests_attention_prefetch.log \
  || exit 4
timeout 120 python3 benchmarks/attention_decode.py --out $OUT --batches 1 16 64 2>&1 | grep -v "Warn\|warn_once" \
  | tee $OUT/attention_prefetch.log
best=$(python3 -c "import json; r=[x for x in json.load(open('$OUT/attention_decode.json'))['rows'] \
if x['batch'] == 16 and x['context'] == 160][0]['us']; \
print(min((k for k in r if 'prefetch' in k), key=r.get))")
cfg=$(python3 -c "import sys; sys.path.insert(0, 'benchmarks'); from attention_decode import CONFIGS; import json; \
t, w, _, p = CONFIGS['$best']; print(json.dumps({'BLOCK_T': t, 'num_warps': w, 'PREFETCH': p}))")
echo "serving with $best: $cfg" | tee -a $OUT/serving_attention_prefetch.log
for turn in 1 2; do
  timeout 90 python3 benchmarks/device/serving_ab.py shipped 1 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_attention_prefetch.log
  timeout 90 python3 benchmarks/device/serving_ab.py prefetch 1 "--attention=$cfg" 2>&1 | grep "^\[\|Error" \
    | tee -a $OUT/serving_attention_prefetch.log
done
