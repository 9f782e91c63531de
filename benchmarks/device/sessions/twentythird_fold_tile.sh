# Twenty-third session (~6 min): FOLD_TILE in the bucket kernel (cols layout), on its shipped 16-token choices over
# 16 tasks, off and on in turns. The stall profile of the shipped kernel (results/ncu_shipped_m16_h200_twentythird.*)
# has 37 % of its samples after the HMMA loop, in the fold; the fold's 64 two-byte LUT gathers a thread load 16x
# the sectors they use. FOLD_TILE = CHUNK loads each (token, row)'s CHUNK LUT entries in one piece (2/4/8 entries:
# 4/8/16 bytes) and splits them per code value in registers. sm_90: 132/134/150 registers (8-byte spill at a cap of
# 128) against 128. Prediction: the fold's L1 wavefronts ~6x fewer; 4096x4096 gpr 1 32 -> ~24-26 us if the fold
# is L1-bound, no change if it waits on latency.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q tests/kernels/test_triton_bucket.py -k "fold_from_one" 2>&1 | tail -1
for spec in "0,4 {\"maxnreg\":128}" "0,8 {\"maxnreg\":128}" "0,2 {\"maxnreg\":128}" "0,8 {}"; do
  set -- $spec
  echo "== FOLD_TILE $1 b-extra $2"
  timeout 150 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag FOLD_TILE \
    --values $1 --b-extra "$2" 2>&1 | grep -v Warn
done | tee $OUT/choice_ab_bucket_m16_fold_tile_h200.log
