# Twelfth session, first device call (~6 min): the host's share of a 16-task step (gpr 1, 16 requests over 16
# tasks, 1 / 4 / 8 decode steps a plan), 8 steps a plan at 12 rows of one task (the eleventh session's A/B point:
# 5.48 ms a step at 4), then a serving run at gpr 1 with the staggered points (requests of different lengths).
source benchmarks/device/prep.sh >/dev/null
for steps in 1 4 8; do
  timeout 120 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16 --decode-steps $steps 2>&1 \
    | tee $OUT/decode_host_time_b16_t16_steps${steps}_gpr1_h200.log | sed -n 1,2p
done
timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch 12 --decode-steps 8 2>&1 \
  | tee $OUT/decode_host_time_b12_steps8_gpr1_h200.log | sed -n 1,2p
timeout 240 python3 benchmarks/bench_serving.py --gpr 1 --batches 1 16 --tasks 1 16 --new-tokens 32 \
  --out $OUT 2>&1 | tee $OUT/serving_h200_twelfth.log | grep -E "tok/s|TTFT|burst" | sed -n 1,20p
