# Fifty-ninth session (H100, the device's Triton 3.6, nothing carried, ~3 min with the start): CODES_TMA, each K
# block's code words copied by TMA into the ring beside its x tile (their own barriers) and read by the lookup from
# shared memory, instead of loaded into registers a block ahead. The profile of the shipped tile
# (fiftyninth_profile_a_ahead.sh) had 9 % of its warps' stall samples on long scoreboard, most at the permutes that
# take those words; CODES_TMA also frees ~33 registers (208 against 241 under 3.6). Prediction: 4096x4096, gpr 4,
# 8 tasks x 256: 106-112 us against the shipped tile's 115-116 (the grid checks each config against the reference).
#   -> $OUT/prefill_grid_gpr4_t36.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 benchmarks/prefill_grid.py --out $OUT/grid --gpr 4 --shapes 4096x4096 \
  --cases "8 tasks x 256" --kinds wgmma --wgmma-tile 256x128x4 2>&1 | grep -v "Warn\|warn_once" \
  > $OUT/prefill_grid_gpr4_t36.log
grep "cuBLAS\|best\|PINGPONG': 1\|WRONG\|failed\|rror" $OUT/prefill_grid_gpr4_t36.log | tail -12
