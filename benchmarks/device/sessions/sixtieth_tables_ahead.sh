# Ran at commit db5420c (TABLES_AHEAD then in kernels/triton_decode_prmt.py and decode_grid.py's prmt_h2xv_ta mode); both
# were removed after this run: no faster (results/decode_m1_grid_gpr4_tables_ahead_h100_sixtieth.*).
# Sixtieth session (H100, the device's Triton 3.6, nothing carried, ~4 min): TABLES_AHEAD in the one-token
# register-LUT kernel (each LUT group's entries loaded a group ahead). At gpr 4 the grid's best one-token configs
# (4-8 rows x 1,024 columns, no split-K: 4 groups a program on 4096 columns) took 9.25 us on 4096x4096 against
# gpr 1's 7.99 (fifty-second session): each group's tables wait on a DRAM round trip after the group's first block.
# Prediction: TABLES_AHEAD's best 8.0-8.6 us on 4096x4096 (the bar: 7.4), 11008x4096 and 4096x11008 ~0.5-1 us under
# their prmt_h2xv twins; configs with one group a program (split-K at 1,024 columns) unchanged.
#   -> $OUT/decode_m1_grid_gpr4_ta.log, $OUT/dg/decode_m1_grid.json
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 400 python3 benchmarks/decode_grid.py --out $OUT/dg --m 1 --gpr 4 --down 1 --modes prmt_h2xv,prmt_h2xv_ta \
  --prefetch 1 --stages 1 --budget-s ${BUDGET_S:-160} 2>&1 | grep -v "Warn\|warn_once" > $OUT/decode_m1_grid_gpr4_ta.log
grep -A4 "^best" $OUT/decode_m1_grid_gpr4_ta.log; grep -c "WRONG\|failed" $OUT/decode_m1_grid_gpr4_ta.log
