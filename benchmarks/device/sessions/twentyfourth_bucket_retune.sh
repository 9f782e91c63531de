# Next session (~8 min): the 16-token bucket choices re-tuned with the new fold (FOLD_TILE 8; the shipped ones,
# kernels/tuned/NVIDIA_H200.v8.json's 10 "bucket|16,..." entries, were timed with the per-code gathers), then serving
# 16 x 16 with the shipped choices and with the re-tuned ones, gpr 1 and 4, each side on its own cache. The variants
# run (results/bucket_cols_variants_fold_tile_h200.log) had other candidates within ~5 % (single timings).
# Prediction: 0-5 % on 16 x 16. If the re-tuned side wins, its cache's bucket|16 entries go into kernels/tuned.
source benchmarks/device/prep.sh >/dev/null
SHIPPED=kernels/tuned/NVIDIA_H200.v8.json
for gpr in 1 4; do
  for side in shipped retuned; do
    dir=/tmp/ss_${side}_gpr$gpr; mkdir -p $dir/autotune
    if [ $side = retuned ]; then  # every shipped choice but the 16-token bucket ones; those tune at the start
      python3 -c "import json; d = json.load(open('$SHIPPED')); json.dump({k: v for k, v in d.items() if not k.startswith('bucket|16,')}, open('$dir/autotune/NVIDIA_H200.v8.json', 'w'))"
      export SKETCHSERVE_SHIPPED_TUNING=0
    else
      unset SKETCHSERVE_SHIPPED_TUNING
    fi
    SKETCHSERVE_CACHE=$dir timeout 140 python3 benchmarks/bench_serving.py --gpr $gpr --batches 16 --tasks 16 \
      --new-tokens 64 --out $OUT/serving_$side 2>&1 | grep -v Warn > $OUT/serving_h200_bucket_${side}_gpr$gpr.log
    echo "== gpr $gpr $side"; grep 'tok/s' $OUT/serving_h200_bucket_${side}_gpr$gpr.log | head -2
  done
  cp /tmp/ss_retuned_gpr$gpr/autotune/NVIDIA_H200.v8.json $OUT/autotune_retuned_gpr$gpr.json
done
unset SKETCHSERVE_SHIPPED_TUNING
python3 - <<'PY'
import json, os
out = os.environ["OUT"]
shipped = json.load(open("kernels/tuned/NVIDIA_H200.v8.json"))
for gpr in (1, 4):
    new = json.load(open(f"{out}/autotune_retuned_gpr{gpr}.json"))
    for k in sorted(k for k in new if k.startswith("bucket|16,") and k.split(",")[4] == str(gpr)):
        print(k, "shipped", shipped.get(k), "retuned", new[k])
PY
