# Twenty-first session (~4 min): the twentieth session's serving run (gpr 1, 16 rows over 4 tasks) with every Triton
# compile logged: do a new mix's eager first prefill steps (70-100 ms each against ~45 replayed) compile kernels?
source benchmarks/device/prep.sh >/dev/null
SKETCHSERVE_CACHE=/tmp/sscache timeout 300 python3 benchmarks/compile_log.py benchmarks/bench_serving.py --gpr 1 \
  --batches 16 --tasks 4 --new-tokens 32 --out $OUT/serving 2>&1 | grep -v Warn > $OUT/burst_compiles_h200.log
grep -n 'compile\|burst\|TTFT\|capture\|first' $OUT/burst_compiles_h200.log | tail -60
