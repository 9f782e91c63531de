# Thirteenth session, third device call (~8 min): with overlapped scheduling (tokens read back through page-locked
# memory): are multi-step plans still worth their coarser streaming? One step a plan against four at batch 1 (gpr 4)
# and 16 rows over 16 tasks (gpr 1); then the serving run at gpr 1 (overlap on, its defaults), staggered points
# included.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for steps in 1 4; do
  timeout 80 python3 benchmarks/decode_host_time.py --gpr 4 --batch 1 --decode-steps $steps \
    --overlap-scheduling on > $OUT/decode_host_time_b1_steps${steps}_gpr4_overlap_h200.log 2>&1
  grep -E "^gpr" $OUT/decode_host_time_b1_steps${steps}_gpr4_overlap_h200.log
done
timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16 --decode-steps 1 \
  --overlap-scheduling on > $OUT/decode_host_time_b16_t16_steps1_overlap_h200.log 2>&1
grep -E "^gpr" $OUT/decode_host_time_b16_t16_steps1_overlap_h200.log
timeout 300 python3 benchmarks/bench_serving.py --gpr 1 --batches 1 16 --tasks 1 16 --new-tokens 32 \
  --out $OUT 2>&1 | tee $OUT/serving_h200_thirteenth.log | grep -E "tok/s|TTFT|burst" | sed -n 1,20p
