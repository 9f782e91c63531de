# Twenty-ninth session (~4 min): the wgmma prefill kernel's TMA form (X_TMA: x tiles by TMA into separate ring
# buffers with mbarriers, the K loop unrolled by the ring, one CTA barrier a K block instead of two plus a proxy
# fence) on the H200: the CUDA tests against the reference, then every wgmma candidate against cuBLAS
# (prefill_grid.py --kinds wgmma), with PINGPONG (the two warpgroups take turns to issue their MMAs, by named barriers)
# and without. Prediction: 134 -> 110-120 us at 4096x4096 8 x 256, if the two warpgroups' lookups then overlap each
# other's MMAs. First run (TMA without PINGPONG): 125.3 us.
source benchmarks/device/prep.sh >/dev/null
python3 -c "import triton, torch; print('triton', triton.__version__, 'torch', torch.__version__)"
timeout 400 python3 -m pytest -q -x tests/kernels/test_prefill_wgmma.py 2>&1 | tail -25 > $OUT/cuda_tests_wgmma_twentyninth.log
tail -5 $OUT/cuda_tests_wgmma_twentyninth.log
timeout 330 python3 benchmarks/prefill_grid.py --out $OUT --gpr 1 --shapes 4096x4096,11008x4096,4096x11008 \
  --cases 'x 2048,x 256' --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_wgmma_twentyninth.log
grep "cuBLAS\|best\|WRONG\|failed\|X_TMA" $OUT/prefill_grid_wgmma_twentyninth.log | cut -c1-260
