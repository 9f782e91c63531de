# Fourteenth session, second device call (~8 min): serving with the one-token kernel's fp16 products offered to
# the autotuner. The shipped v4 choices lack the 8 one-token fp16 shapes of the 7B-shaped model, so the start-up
# tuning times them (both forms); its cache comes back in $OUT/cache for kernels/tuned/NVIDIA_H200.v4.json.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
export SKETCHSERVE_CACHE=$OUT/cache
for gpr in 1 4; do
  timeout 270 python3 benchmarks/bench_serving.py --gpr $gpr --batches 1 16 --tasks 1 16 --new-tokens 32 \
    --out $OUT/gpr$gpr 2>&1 | tee $OUT/serving_h200_fourteenth_gpr$gpr.log | grep -E "tok/s|TTFT|tun" | sed -n 1,14p
done
python3 -c "
import json, glob
for f in glob.glob('$OUT/cache/autotune/*.json'):
    for k, v in sorted(json.load(open(f)).items()):
        print(k, v)
"
