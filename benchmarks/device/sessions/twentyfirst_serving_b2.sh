# Twenty-first session (~6 min): serving at batch 2 of one task (gpr 1), the 2-token choices of v8 against v7's
# (the fragment kernel on all 7B shapes; a user cache with v7's three entries overrides the shipped file).
# Prediction: the o and down projections 12.3 -> 10.1 and 22.0 -> 20.4 us, ~0.12 ms of a ~3.5 ms step (+3 %).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
mkdir -p /tmp/ss_v7/autotune
cat > /tmp/ss_v7/autotune/NVIDIA_H200.v8.json <<'JSON'
{"decode|2,4096,4096,4,1,torch.float16,torch.float16": {"MODE": 5, "ROWS": 1, "SPLIT_K": 8, "WPL": 4, "num_warps": 2},
 "decode|2,4096,11008,4,1,torch.float16,torch.float16": {"MODE": 5, "ROWS": 1, "SPLIT_K": 16, "WPL": 4, "num_warps": 4}}
JSON
for run in v7 v8; do
  dir=/tmp/ss_$run; mkdir -p $dir
  SKETCHSERVE_CACHE=$dir timeout 240 python3 benchmarks/bench_serving.py --gpr 1 --batches 2 --tasks 1 \
    --new-tokens 64 --out $OUT/serving_$run 2>&1 | grep -v Warn > $OUT/serving_h200_b2_choices_${run}.log
  echo "== $run"; grep -i 'tok/s\|step' $OUT/serving_h200_b2_choices_${run}.log | head -8
done
