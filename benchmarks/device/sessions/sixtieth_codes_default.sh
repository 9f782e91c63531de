# Sixtieth session (H100, the device's Triton 3.6, nothing carried, ~8 min warm): CODES_TMA as the PINGPONG tiles'
# default (the code words by TMA into the ring; all 24 wgmma CUDA tests passed over it this session). Then:
#   the grid at the bar's case (4096x4096, 8 tasks x 256) at gpr 4 and gpr 1: the op as shipped ("shipped op")
#     should now take CODES_TMA. Prediction: gpr 4 109-111 us (1.24-1.26x cuBLAS), its CODES_TMA 0 twin 115-116;
#     gpr 1 a few us under its loaded twin too (untimed so far).
#   the kernel table's prefill rows (all three shapes, gpr 1 and 4). Prediction: every row 2-5 % under the
#     fifty-ninth session's (1.15-1.29x), the gpr-4 8-task case on 4096x4096 ~1.22-1.25x.
#   -> $OUT/prefill_grid_gpr{4,1}_t36.log, $OUT/grid*/, $OUT/kernels_prefill.log, $OUT/bk/kernels.{json,png}
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
for gpr in 4 1; do
  timeout 150 python3 benchmarks/prefill_grid.py --out $OUT/grid$gpr --gpr $gpr --shapes 4096x4096 \
    --cases "8 tasks x 256" --kinds wgmma --wgmma-tile 256x128x4 2>&1 | grep -v "Warn\|warn_once" \
    > $OUT/prefill_grid_gpr${gpr}_t36.log
  grep "cuBLAS\|best\|WRONG\|failed\|rror" $OUT/prefill_grid_gpr${gpr}_t36.log | tail -4
  grep "PINGPONG': 1" $OUT/prefill_grid_gpr${gpr}_t36.log | sed "s/'BLOCK_M.*'PINGPONG': 1, //"
done
timeout ${TABLE_S:-330} python3 benchmarks/bench_kernels.py --out $OUT/bk --phases prefill 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/kernels_prefill.log
grep "M=2048" $OUT/kernels_prefill.log | sed 's/  fused.*//'
