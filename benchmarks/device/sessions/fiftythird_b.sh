# Fifty-third session's second call (H100; carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]
# on a fresh machine, nothing on a warm one): bash benchmarks/device/sessions/fiftythird_b.sh
# 1. Nsight Compute on an XSTAGE config (RB 1, WK 4, WPL 4, 4 stages: 121.6 us at one token, 34.4 at 16, in the first
#    call's grid, against 9.28 / 14.95 for the same config without XSTAGE): where its warps wait. Compare with
#    results/ncu_*_pairs_stages_*_fiftysecond (that config without XSTAGE). $OUT/ncu_pairs_details.log, ncu_sass_pairs_*
# 2. read_floor.py twice more under the device's Triton 3.6 (the op, cuBLAS and a codes-only reader at one token):
#    the run-to-run spread of the one-token ratio the bar judges. $OUT/read_floor_{2,3}.*
nvidia-smi --query-gpu=name --format=csv,noheader
PROFILE=benchmarks/device/sessions/xstage_profile.json bash benchmarks/device/sessions/fortyninth_pairs.sh ncu
(source benchmarks/device/prep.sh >/dev/null
 for round in 2 3; do
   mkdir -p $OUT/r$round
   timeout 110 python3 benchmarks/read_floor.py --out $OUT/r$round 2>&1 | grep -v "Warn\|warn_once" > $OUT/r$round/read_floor.log
   tail -4 $OUT/r$round/read_floor.log
 done)
