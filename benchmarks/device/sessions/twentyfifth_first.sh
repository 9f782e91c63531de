# Twenty-fifth session, first call (~7 min): the queued plan's items 0 and 4 back to back.
# 0: X_PREFETCH + PREFETCH 2 on the one-token kernel (twentyfourth_x_and_codes_ahead.sh; prediction 7.5 -> 6.0-6.5 us
#    on 4096x4096 gpr 1 if x's L2 wait and the codes' DRAM wait were what the loop serialized on, ~1.0x if not).
# 4: the start on fresh caches (compile-ahead's per-variant dedupe: one compile per variant, 0 after the start;
#    prediction: under the twenty-third session's 23.7 s).
bash benchmarks/device/sessions/twentyfourth_x_and_codes_ahead.sh
source benchmarks/device/prep.sh >/dev/null
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_compile_ahead.py tests/kernels/test_cpu_threads.py \
  tests/adapters/test_pool.py 2>&1 | tail -2
export TRITON_CACHE_DIR=$(mktemp -d) SKETCHSERVE_CACHE=$(mktemp -d)
timeout 250 python3 benchmarks/startup_compiles.py --layers 32 --tasks 16 2>&1 | grep -v "Warn\|warn_once" \
  | grep -v "^  \|^    \|^bucket launches at M" | tee $OUT/startup_compiles_h200_twentyfifth.log
