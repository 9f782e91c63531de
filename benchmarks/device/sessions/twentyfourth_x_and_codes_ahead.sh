# Next session (~2 min): both of the one-token kernel's per-block waits removed at once. The twenty-third session's
# profile of the shipped kernel (results/ncu_shipped_m1_sass_h200_twentythird.csv.gz) has the loop's top stall on the
# STSM that converts x's pairs, waiting on their L2 loads (28 % of the loop's samples): x is loaded in the block that
# uses it. Each lever tried alone moved nothing: x a block ahead (X_PREFETCH, twenty-first: 0.94-1.02x) leaves the
# codes one block (~0.6 us of work) ahead of a ~1 us DRAM latency; codes two blocks ahead (PREFETCH 2, twenty-third:
# 0.87-1.00x) leaves x's L2 wait. Both at once: sm_90 (local Triton) 79 -> 95 registers, 4 programs an SM still.
# Prediction: 4096x4096 gpr 1 7.5 -> 6.0-6.5 us if the two waits were what the loop serialized on; ~1.0x if not.
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q tests/kernels/test_prmt_lut.py -k "register_lut_kernel_matches" 2>&1 | tail -1
# The device's Triton gave X_PREFETCH 125 registers against 95 (twenty-first session), where the local one gives 80
# against 79: if the pair takes more than 128 (3 programs an SM, the 512-program grid in 1.3 waves), the halved
# blocks (BLOCK_K 512: half the words a thread holds per block ahead) are the fallback.
for spec in "X_PREFETCH 0,1 {\"PREFETCH\":2}" "X_PREFETCH 0,1 {}" "X_PREFETCH 0,1 {\"PREFETCH\":2,\"BLOCK_K\":512}"; do
  set -- $spec
  echo "== $1 $2 b-extra $3"
  timeout 150 python3 benchmarks/choice_ab.py --out $OUT --m 1 --flag $1 --values $2 --b-extra "$3" 2>&1 | grep -v Warn
done | tee $OUT/choice_ab_m1_x_and_codes_ahead_h200.log
