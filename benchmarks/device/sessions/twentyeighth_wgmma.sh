# Twenty-eighth session (~4 min): the wgmma prefill kernel (kernels/triton_prefill_wgmma.py) on the H200: its CUDA
# tests against the reference, then its configs against cuBLAS and the shipped op (prefill_grid.py --kinds wgmma).
source benchmarks/device/prep.sh >/dev/null
python3 -c "import triton, torch; print('triton', triton.__version__, 'torch', torch.__version__)"
timeout 200 python3 -m pytest -q -x tests/kernels/test_prefill_wgmma.py 2>&1 | tail -25 > $OUT/cuda_tests_wgmma_twentyeighth.log
tail -5 $OUT/cuda_tests_wgmma_twentyeighth.log
timeout 330 python3 benchmarks/prefill_grid.py --out $OUT --gpr 1 --shapes 4096x4096,11008x4096 \
  --cases 'x 2048,x 256' --kinds wgmma 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_grid_wgmma_twentyeighth.log
grep "cuBLAS\|best\|WRONG\|failed" $OUT/prefill_grid_wgmma_twentyeighth.log | cut -c1-300
