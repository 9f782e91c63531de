# Twenty-sixth session, last call (~3 min): prefill of 2,048 tokens over 1, 4 and 8 tasks, the dense path (shipped:
# from 64-token runs) against the fused prefill kernel (--dense-min 100000: never dense), gpr 1, the four fused
# projection shapes; eager and in a CUDA graph (benchmarks/prefill_tasks.py). For the next session's first item.
source benchmarks/device/prep.sh >/dev/null
SKETCHSERVE_CACHE=/tmp/sspt timeout 420 python3 benchmarks/prefill_tasks.py --out $OUT --gpr 1 --dense-min 64,100000 \
  --cases "x 2048,x 512,x 256" 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/prefill_tasks_2048_gpr1_twentysixth.log
