# Twenty-second session: the start-up warm-up's compiles on a pool of threads (kernels/compile_ahead.py). The engine
# start of the 7B-shaped sketch (32 layers, 16 tasks) with Triton's cache and the autotune cache empty, threads 16
# then 1 (SKETCHSERVE_COMPILE_THREADS), and the compiles left after the start (startup_compiles.py: 0 expected in
# both). Prediction: 70 s -> 35-45 s (the local 2-core check overlapped ~40 % of a compile's time).
# Result (first form, one compile-ahead block over both launch modes): 79.0 s -> 24.2 s, 0 compiles after the start.
# Second form (this script with THREADS="16"): a block per launch mode, the PDL mode's meeting the first's choices.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q tests/kernels/test_compile_ahead.py tests/server/test_kernel_tuning.py \
  tests/server/test_fused_ops.py 2>&1 | tail -2
for threads in ${THREADS:-16 1}; do
  export TRITON_CACHE_DIR=$(mktemp -d) SKETCHSERVE_CACHE=$(mktemp -d) SKETCHSERVE_COMPILE_THREADS=$threads
  timeout 260 python3 benchmarks/startup_compiles.py --layers 32 --tasks 16 2>&1 | grep -v "Warn\|warn_once" \
    | grep -v "^  \|^    \|^bucket launches at M" | tee $OUT/startup_compile_ahead_modes_threads${threads}_h200.log
done
