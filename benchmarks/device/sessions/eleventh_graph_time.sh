# Eleventh session (~2 min): the step against its decode graph's GPU time inside the run (events around each
# replay), at gpr 1 batch 16 and gpr 4 batch 1, one step a plan. (The session's diagnosis of the slow padded steps
# also replayed the kept inputs after the run: decode_host_time.py at commit 8e8575b.)
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
# sed, not head: head exits early and cuts tee's log (SIGPIPE)
timeout 110 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --decode-steps 1 2>&1 \
  | tee $OUT/decode_host_time_b16_steps1_gpr1.log | sed -n 1,2p
timeout 100 python3 benchmarks/decode_host_time.py --gpr 4 --batch 1 --decode-steps 1 2>&1 \
  | tee $OUT/decode_host_time_b1_steps1_gpr4.log | sed -n 1,2p
