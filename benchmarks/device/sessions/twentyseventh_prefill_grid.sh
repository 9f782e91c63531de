# Twenty-seventh session, first call (~9 min): the register-LUT prefill kernel (kernels/triton_prefill_prmt.py).
# Its CUDA tests (tests/kernels/test_triton_forward.py -k prefill: every candidate, the interpreter's cases
# compiled), then benchmarks/prefill_grid.py at gpr 1: 14 configs on 4096x4096 at 1 task x 2048, the best 4 on the
# other cases and shapes, against cuBLAS, the shipped op and the generic fused kernel.
# Prediction: per K loop trip the 256x128x64 / 8-warp config issues ~460 warp instructions per scheduler pair
# against ~1,020 cycles of wgmma (bench_kernels.py --sm90 prefill), so if the dequantization overlaps the MMAs it
# runs near cuBLAS's rate: ~110-130 us at 2,048 tokens on 4096x4096 (cuBLAS 95, generic 244), flat in the task
# count, so 8 x 256 ~1.2-1.4x cuBLAS against the dense path's 2.37x.
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x -p no:cacheprovider tests/kernels/test_triton_forward.py -k "prefill" 2>&1 \
  | tail -4 > $OUT/cuda_tests_prefill_twentyseventh.log
cat $OUT/cuda_tests_prefill_twentyseventh.log; echo "== tests ($SECONDS s)"
timeout $((570 - SECONDS)) python3 benchmarks/prefill_grid.py --out $OUT --gpr 1 --budget-s 200 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/prefill_grid_gpr1_twentyseventh.log
grep "cuBLAS\|best\|budget\|WRONG\|failed" $OUT/prefill_grid_gpr1_twentyseventh.log; echo "== grid ($SECONDS s)"
