# Written in the forty-first session for the next (~6 min): the serving table with the LEVEL_SPLIT bucket choices
# at 32 and 64 tokens (shipped in the forty-first session; its figures were measured right after each re-tune, not
# in a full table run), gpr 1 and 4, as sessions/fortieth_first.sh ran it. Before it, in its own call:
# `bash benchmarks/device/cuda_tests.sh kernels4` (the wgmma bucket file's GPU cases not yet run on CUDA).
source benchmarks/device/prep.sh >/dev/null
for g in 1 4; do
  mkdir -p $OUT/gpr$g
  timeout 170 python3 benchmarks/bench_serving.py --out $OUT/gpr$g --gpr $g --bandwidth 4.25e12 --memory-gb 139 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/serving_gpr$g.log | grep "batch=\|TTFT 512\|residency"
done
