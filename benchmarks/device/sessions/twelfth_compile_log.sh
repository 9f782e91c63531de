# Twelfth session (~1 min): which Triton kernels the first 16-task prompt steps compile (1.2-1.6 s steps in run 0
# of decode_host_time, twelfth_prefill_groups*.sh): every compile logged with its time (benchmarks/compile_log.py).
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 benchmarks/compile_log.py benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16 \
  --decode-steps 4 --tokens 32 > $OUT/compile_log_b16_t16_h200.log 2>&1
grep -E "^\[compile|^run" $OUT/compile_log_b16_t16_h200.log | cut -c1-330 | tail -40
