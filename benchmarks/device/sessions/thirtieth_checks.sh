# Thirtieth session (~5 min): (1) the wgmma prefill CUDA tests with PINGPONG wherever a config names it (pingpong_ok
# removed) and two new all-tail cases (K 128 and 192); (2) the autotuner's agreement check on the case whose every
# candidate "disagreed" (benchmarks/device/sessions/thirtieth_disagree.py), from an empty cache: its choices for the two keys
# that kept the default by elimination (512 tokens, 4096x4096 gpr 4 and 4096x11008 gpr 1, mean-length class 256).
source benchmarks/device/prep.sh >/dev/null
timeout 300 python3 -m pytest -q -x tests/kernels/test_prefill_wgmma.py 2>&1 | tail -15 > $OUT/cuda_tests_wgmma_thirtieth.log
tail -3 $OUT/cuda_tests_wgmma_thirtieth.log
SKETCHSERVE_SHIPPED_TUNING=0 SKETCHSERVE_CACHE=$OUT/cache timeout 260 python3 benchmarks/device/sessions/thirtieth_disagree.py 2>&1 \
  | grep -v "Warn\|warn_once\|^autotune prefill_tiles: candidate" > $OUT/disagree_thirtieth.log
grep -v "^  agrees=True" $OUT/disagree_thirtieth.log | cut -c1-250 | head -60
grep -c "agrees=True" $OUT/disagree_thirtieth.log
