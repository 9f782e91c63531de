# Twenty-third session (~6 min): the start's last serial compiles on the pool too. The twenty-second session's start
# (results/startup_compile_ahead_kernels_threads16_h200.log) compiled 10 variants one after another: self_check's 6
# (small shapes: norms, RoPE, SiLU, two attention forms) and the prefill pieces' 4 (the fused norms, RoPE and SiLU in
# the PDL launch mode, in capture_lone_prompts' first eager step). Now both run a compile-only pass first
# (triton_fused.self_check, PrefillGraphs.capture_lone_prompts). Prediction: 25.6 s -> ~22-23 s, 0 compiles in the
# calls for those kernels, 0 after the start.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q tests/server/test_fused_ops.py tests/server/test_prefill_graphs.py \
  tests/kernels/test_compile_ahead.py 2>&1 | tail -2
export TRITON_CACHE_DIR=$(mktemp -d) SKETCHSERVE_CACHE=$(mktemp -d)
timeout 250 python3 benchmarks/startup_compiles.py --layers 32 --tasks 16 2>&1 | grep -v "Warn\|warn_once" \
  | grep -v "^  \|^    \|^bucket launches at M" | tee $OUT/startup_compile_ahead_fused_h200.log
