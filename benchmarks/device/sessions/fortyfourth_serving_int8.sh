# Forty-fourth session (~6 min): the serving table in the opt-in int8 activation mode (--int8-activations), gpr 1
# and 4, with the op's int8 config as shipped now (PDL; gpr 4's BLOCK_K 128, and 64 with 3 stages on the down
# projection), as fortysecond_serving.sh runs the exact one.
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do
  mkdir -p $OUT/gpr$g
  timeout 170 python3 benchmarks/bench_serving.py --out $OUT/gpr$g --gpr $g --bandwidth 4.25e12 --memory-gb 139 \
    --int8-activations 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/serving_int8_gpr$g.log | grep "batch=\|TTFT 512\|residency"
done
