# Eleventh session (~3 min): the decode graph's GPU time inside the run (events around each replay) against the
# same graph replayed after it, at gpr 1 batch 16 (where the latter exceeded the step) and gpr 4 batch 1.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 110 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --decode-steps 1 2>&1 \
  | tee $OUT/decode_host_time_b16_steps1_gpr1.log | head -4
timeout 100 python3 benchmarks/decode_host_time.py --gpr 4 --batch 1 --decode-steps 1 2>&1 \
  | tee $OUT/decode_host_time_b1_steps1_gpr4.log | head -3
